"""Apply Vault's configuration from Git: auth mounts, engines, audit, policies, roles.

Every step is an upsert or is skipped when already present, so a re-run changes nothing.
The Job logs in with Kubernetes auth (role vault-configure, made by init.py), never with
a root token. Inputs: the policies/ and config/ ConfigMaps and environment variables that
Flux substitutes from platform-vars.
"""

import base64
import glob
import json
import os

from vaultapi import ApiError, Vault

POLICY_DIR = os.environ.get("POLICY_DIR", "/policies")
CONFIG_DIR = os.environ.get("CONFIG_DIR", "/config")
SELF = "vault-configure"
# On the audit PVC of each server pod (server.auditStorage mounts it at /vault/audit); moved by
# environment only in the test lab, where the servers run on one machine.
AUDIT_FILE = os.environ.get("VAULT_AUDIT_FILE", "/vault/audit/audit.log")


def load(name):
    with open(os.path.join(CONFIG_DIR, name)) as f:
        data = json.load(f)
    data.pop("_comment", None)
    return data


def configure_audit(vault):
    # The file is on the audit PVC of each server pod (server.auditStorage).
    audits = vault.call("GET", "sys/audit")
    if "file/" not in audits.get("data", audits):
        vault.write("sys/audit/file", {"type": "file", "options": {"file_path": AUDIT_FILE}})
        print("enabled the file audit device", flush=True)


def configure_engines(vault):
    if vault.ensure_mount("kv", {"type": "kv", "options": {"version": "2"}}):
        print("enabled kv-v2 at kv/", flush=True)
    if vault.ensure_mount("database", {"type": "database"}):
        print("enabled the database engine", flush=True)


def configure_kubernetes_auth(vault):
    # The tooling mount "kubernetes" is configured by init.py. The application cluster's
    # tokens are reviewed with the caller's own JWT (disable_local_ca_jwt): its service
    # accounts hold system:auth-delegator there, so Vault stores no long-lived token.
    vault.ensure_auth("kubernetes-application", "kubernetes")
    vault.write("auth/kubernetes-application/config", {
        "kubernetes_host": os.environ["APPLICATION_CLUSTER_ENDPOINT"],
        "kubernetes_ca_cert": base64.b64decode(os.environ["APPLICATION_CLUSTER_CA"]).decode(),
        "disable_local_ca_jwt": True,
    })


def configure_policies(vault):
    for path in sorted(glob.glob(os.path.join(POLICY_DIR, "*.hcl"))):
        name = os.path.basename(path)[: -len(".hcl")]
        if name == SELF:
            continue  # vault-init's (with a root token): this Job cannot widen its own policy
        with open(path) as f:
            policy = f.read()
        current = vault.read(f"sys/policies/acl/{name}")
        if current and current.get("data", {}).get("policy") == policy:
            continue
        try:
            vault.write(f"sys/policies/acl/{name}", {"policy": policy})
        except ApiError as err:
            raise SystemExit(f"policies/{name}.hcl: Vault refused the policy ({err}); check it offline with "
                             "`python -m vault_platform.vault_checks` (OpenBao's parser)") from None
        print(f"wrote policy {name}", flush=True)


def configure_roles(vault):
    for mount, roles in load("roles.json").items():
        for role, body in roles.items():
            try:
                vault.write(f"auth/{mount}/role/{role}", body)
            except ApiError as err:
                if err.status != 403:
                    raise
                raise SystemExit(f"config/roles.json: role {mount}/{role} is not one vault-configure.hcl lets this Job "
                                 "write (its namespaces or policies); see `python -m vault_platform.vault_checks`") from None


def configure_database(vault):
    spec = load("database.json")
    name = spec["connection"]
    if vault.read(f"database/config/{name}") is None:
        # First run only: hand Vault the admin login an operator stored in kv, then let
        # Vault rotate that password so only Vault knows it from here on.
        admin = vault.read("kv/data/platform/database-admin")
        if admin is None:
            print("WARNING: kv/platform/database-admin is missing: database engine not "
                  "configured. Write it (username, password) and re-run this Job.", flush=True)
            return
        login = admin["data"]["data"]
        host, port, db = (os.environ[k] for k in ("DATABASE_HOST", "DATABASE_PORT", "DATABASE_NAME"))
        vault.write(f"database/config/{name}", {
            "plugin_name": "postgresql-database-plugin",
            "connection_url": f"postgresql://{{{{username}}}}:{{{{password}}}}@{host}:{port}/{db}?sslmode=require",
            "username": login["username"],
            "password": login["password"],
            "password_authentication": "scram-sha-256",
            "allowed_roles": sorted(spec["roles"]),
            "verify_connection": True,
        })
        vault.write(f"database/rotate-root/{name}", {})
        print(f"configured {name}; its admin password is rotated: delete "
              "kv/platform/database-admin, it is stale now", flush=True)
    for role, body in spec["roles"].items():
        vault.write(f"database/roles/{role}", dict(body, db_name=name))


def main():
    vault = Vault()
    vault.wait_until_reachable()
    vault.login_kubernetes("kubernetes", SELF)
    configure_audit(vault)
    configure_engines(vault)
    configure_kubernetes_auth(vault)
    configure_policies(vault)
    configure_roles(vault)
    configure_database(vault)
    # A Job that could not finish must fail (Flux then shows the Kustomization not ready and
    # the Job is retried), never report success on a Vault that cannot issue credentials.
    connection = load("database.json")["connection"]
    if vault.read(f"database/config/{connection}") is None:
        raise SystemExit(f"vault-configure is incomplete: the database engine has no connection {connection} "
                         "(see the lines above); fix that and re-run this Job")
    print("Vault configuration applied", flush=True)


if __name__ == "__main__":
    main()
