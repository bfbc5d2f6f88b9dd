# External Secrets Operator syncs static secrets under kv/ into Kubernetes Secrets,
# except the platform's own (the database admin credential stays inside Vault).
path "kv/data/gitlab/*"      { capabilities = ["read"] }
path "kv/metadata/gitlab/*"  { capabilities = ["read"] }
path "kv/data/apps/*"        { capabilities = ["read"] }
path "kv/metadata/apps/*"    { capabilities = ["read"] }
