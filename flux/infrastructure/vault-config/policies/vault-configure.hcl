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
# Vault's own database login is made once from the master credential above
# (configure.py, bootstrap_database_login): a throw-away connection and role named
# <connection>-bootstrap, its one lease revoked at once, then both and the kv copy deleted.
# (An exact path replaces the glob's capabilities, hence create/update repeated.)
path "database/config/platform-postgres-bootstrap" { capabilities = ["create", "update", "delete"] }
path "database/roles/platform-postgres-bootstrap" { capabilities = ["create", "update", "delete"] }
path "database/creds/platform-postgres-bootstrap" { capabilities = ["read"] }
path "sys/leases/revoke/database/creds/platform-postgres-bootstrap/*" { capabilities = ["update"] }
path "kv/metadata/platform/database-admin" { capabilities = ["delete"] }
