# The configure Job's own policy: enough to apply this directory, and nothing that lets it
# widen its own access (each line is proven both ways in tests/vault/test_policies.py).
# It cannot:
# - write its own policy, the `default` policy (attached to every token, its own too) or its
#   own role: vault-init owns them (a change to this file is applied with the bootstrap-token
#   path, README "Recover a failed Vault bootstrap");
# - bind a role to a namespace or a policy not listed below: so never to itself (namespace
#   vault), never to vault-configure or root, never by namespace selector or wildcard;
# - enable an auth method or engine other than the ones it manages (an approle mount would
#   let it mint itself tokens for any role it writes);
# - repoint the tooling cluster's Kubernetes auth at another API server (vault-init's), or
#   remove it: the application clusters' mounts are kubernetes-<name> (a policy glob can only
#   end a path, so the hyphen is what keeps "kubernetes" out of auth/kubernetes-*).
# It can: rewrite the policies workloads use and their roles within those namespaces, make,
# configure and remove the application clusters' Kubernetes auth mounts (kubernetes-*, type
# kubernetes only, never reviewing with Vault's own token: disable_local_ca_jwt true), the
# database engine's connection and roles, and read the one-time database admin credential.
# Each allowed value below is one role's exact list from config/roles.json (Vault compares a
# list parameter as a whole); an offline check (tests/flux/test_vault_config.py) names any
# role of roles.json this policy does not allow. Adding one is a privileged change: edit this
# file and apply it with the bootstrap-token path.
path "sys/mounts"          { capabilities = ["read"] }
path "sys/mounts/kv"       { capabilities = ["create", "read", "update"] }
path "sys/mounts/database" { capabilities = ["create", "read", "update"] }
path "sys/auth"            { capabilities = ["read"] }
path "sys/auth/kubernetes-*" {
  capabilities = ["create", "read", "update", "delete", "sudo"]
  allowed_parameters = { "type" = ["kubernetes"] }
}
path "sys/audit"           { capabilities = ["read", "sudo"] }
path "sys/audit/file"      { capabilities = ["create", "update", "sudo"] }
path "sys/policies/acl/*"  { capabilities = ["create", "read", "update"] }
path "sys/policies/acl/vault-configure" { capabilities = ["read"] }
path "sys/policies/acl/default"         { capabilities = ["read"] }
path "auth/kubernetes/role/*" {
  capabilities = ["create", "read", "update"]
  allowed_parameters = {
    "bound_service_account_names"      = []
    "bound_service_account_namespaces" = [["external-secrets"], ["gitlab-runner"]]
    "token_policies"                   = [["external-secrets"], ["gitlab-runner"]]
    "token_ttl"                        = []
  }
}
path "auth/kubernetes/role/vault-configure" { capabilities = ["read"] }
# The snapshot CronJob's role: its one account in namespace vault, its one policy. Every value
# pinned: the glob above never allows namespace vault (that would let this Job bind a role to
# itself), and this exact path allows nothing but vault/vault-backup.
path "auth/kubernetes/role/vault-backup" {
  capabilities = ["create", "read", "update"]
  allowed_parameters = {
    "bound_service_account_names"      = [["vault-backup"]]
    "bound_service_account_namespaces" = [["vault"]]
    "token_policies"                   = [["vault-backup"]]
    "token_ttl"                        = []
  }
}
# Every application cluster's mount: its config and its roles (config/roles.json "kubernetes-*").
# One glob covers both (a glob ends the path, so config and role/* cannot be told apart under
# it): the allowed parameters are the config's three and the roles' four; each is ignored by
# the other endpoint. disable_local_ca_jwt = false would send Vault's own service-account
# token to whatever kubernetes_host says, hence [true].
path "auth/kubernetes-*" {
  capabilities = ["create", "read", "update"]
  allowed_parameters = {
    "kubernetes_host"                  = []
    "kubernetes_ca_cert"               = []
    "disable_local_ca_jwt"             = [true]
    "bound_service_account_names"      = []
    "bound_service_account_namespaces" = [["external-secrets"], ["demo"]]
    "token_policies"                   = [["external-secrets"], ["demo-app"]]
    "token_ttl"                        = []
  }
}
# GitLab CI's JWT auth (config/ci-roles.json): the mount, its issuer, and roles with exactly
# the values configure.py writes and the policy lists of ci-roles.json. bound_claims is a map,
# which allowed_parameters cannot pin: configure.py refuses a role bound to no project, and a
# role can only ever hand out a policy listed here.
path "sys/auth/jwt-gitlab" {
  capabilities = ["create", "read", "update", "sudo"]
  allowed_parameters = { "type" = ["jwt"] }
}
path "auth/jwt-gitlab/config" {
  capabilities = ["create", "read", "update"]
  allowed_parameters = {
    "oidc_discovery_url" = []
    "bound_issuer"       = []
  }
}
path "auth/jwt-gitlab/role/*" {
  capabilities = ["create", "read", "update"]
  allowed_parameters = {
    "role_type"         = ["jwt"]
    "user_claim"        = ["project_path"]
    "bound_audiences"   = [["vault-platform"]]
    "bound_claims_type" = ["string"]
    "bound_claims"      = []
    "token_policies"    = [["ci-vault-platform"]]
    "token_ttl"         = ["5m"]
    "token_max_ttl"     = ["15m"]
  }
}
path "database/config/*"   { capabilities = ["create", "read", "update"] }
path "database/roles/*"    { capabilities = ["create", "read", "update"] }
path "database/rotate-root/*" { capabilities = ["update"] }
path "kv/data/platform/database-admin" { capabilities = ["read"] }
# Vault's own database login is made once from the master credential above
# (configure.py, bootstrap_database_login): a throw-away connection and role named
# <connection>-bootstrap, its one lease revoked at once, then both and the kv copy deleted.
# (An exact path replaces the glob's capabilities, hence create/update repeated.)
path "database/config/platform-postgres-bootstrap" { capabilities = ["create", "update", "delete"] }
path "database/roles/platform-postgres-bootstrap" { capabilities = ["create", "update", "delete"] }
path "database/creds/platform-postgres-bootstrap" { capabilities = ["read"] }
path "sys/leases/revoke/database/creds/platform-postgres-bootstrap/*" { capabilities = ["update"] }
path "kv/metadata/platform/database-admin" { capabilities = ["delete"] }
