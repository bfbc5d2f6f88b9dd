# CI jobs of the project platform/vault-platform on its protected main branch (ci-roles.json
# role vault-platform-main, logged in with their own id_tokens JWT): that project's CI secrets only.
path "kv/data/ci/platform/vault-platform/*"     { capabilities = ["read"] }
path "kv/metadata/ci/platform/vault-platform/*" { capabilities = ["read"] }
