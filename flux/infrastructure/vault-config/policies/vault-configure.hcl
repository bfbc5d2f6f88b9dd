# The configure Job's own policy: enough to apply this directory, nothing to read
# secrets except the one-time database admin credential it hands to Vault.
path "sys/mounts"          { capabilities = ["read"] }
path "sys/mounts/*"        { capabilities = ["create", "read", "update", "sudo"] }
path "sys/auth"            { capabilities = ["read"] }
path "sys/auth/*"          { capabilities = ["create", "read", "update", "sudo"] }
path "sys/audit"           { capabilities = ["read", "sudo"] }
path "sys/audit/*"         { capabilities = ["create", "update", "sudo"] }
path "sys/policies/acl/*"  { capabilities = ["create", "read", "update"] }
path "auth/+/config"       { capabilities = ["create", "read", "update"] }
path "auth/+/role/*"       { capabilities = ["create", "read", "update"] }
path "database/config/*"   { capabilities = ["create", "read", "update"] }
path "database/roles/*"    { capabilities = ["create", "read", "update"] }
path "database/rotate-root/*" { capabilities = ["update"] }
path "kv/data/platform/database-admin" { capabilities = ["read"] }
