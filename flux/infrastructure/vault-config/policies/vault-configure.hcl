# The configure Job's own policy, head part: the rules that name nothing of Git's or Terraform's.
# The rest is rendered by scripts/job_policy.py: one exact path per policy, role, mount and
# database object configure.py writes, each parameter pinned to the value it writes and
# required (docs/vault-configure-threat-model.md says why, and what Vault's ACL does and does
# not check). vault-init applies the whole with a root token; the Job refuses to run when
# Vault's copy differs (a change to Git or platform-vars that widens what it may write is a
# privileged change: README "Recover a failed Vault bootstrap").
# Never a glob here: Vault stores names lower-cased but matches ACL paths as written, so a
# glob next to an exact path reaches the exact path's object under another spelling.
path "sys/mounts"          { capabilities = ["read"] }
path "sys/mounts/kv" {
  capabilities = ["create", "read", "update"]
  allowed_parameters = {
    "type"    = ["kv"]
    "options" = [{ "version" = "2" }]
  }
  required_parameters = ["options", "type"]
}
path "sys/mounts/database" {
  capabilities = ["create", "read", "update"]
  allowed_parameters = { "type" = ["database"] }
  required_parameters = ["type"]
}
path "sys/auth"            { capabilities = ["read"] }
path "sys/audit"           { capabilities = ["read", "sudo"] }
# The one-time RDS master credential (configure.py, bootstrap_database_login): read, then deleted.
path "kv/data/platform/database-admin"     { capabilities = ["read"] }
path "kv/metadata/platform/database-admin" { capabilities = ["delete"] }
# Its own policy: read, to refuse to run on a copy that is not the one Git renders.
path "sys/policies/acl/vault-configure"    { capabilities = ["read"] }
