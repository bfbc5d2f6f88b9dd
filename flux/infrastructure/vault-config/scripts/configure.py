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
import re

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


def audit_body():
    return {"type": "file", "options": {"file_path": AUDIT_FILE}}


def configure_audit(vault):
    # The file is on the audit PVC of each server pod (server.auditStorage).
    audits = vault.call("GET", "sys/audit")
    if "file/" not in audits.get("data", audits):
        vault.write("sys/audit/file", audit_body())
        print("enabled the file audit device", flush=True)


def configure_engines(vault):
    if vault.ensure_mount("kv", {"type": "kv", "options": {"version": "2"}}):
        print("enabled kv-v2 at kv/", flush=True)
    if vault.ensure_mount("database", {"type": "database"}):
        print("enabled the database engine", flush=True)


def input_error(source, field, value, problem, fix):
    """Bad input as one line, in the project's ConfigError form, raised before any write."""
    return SystemExit(f"{source}: {field} = {value!r}: {problem}; fix: {fix}")


# Application clusters' auth mounts: exactly the paths vault-configure.hcl lets this Job
# manage (auth/kubernetes-*). The tooling cluster's "kubernetes" (init.py's) is not one of them.
CLUSTER_MOUNT_PREFIX = "kubernetes-"
CLUSTERS_VAR = "VAULT_KUBERNETES_CLUSTERS_B64"
CLUSTER_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
CLUSTERS_FIX = "it is Terraform's (the tooling platform stack's platform-vars); re-run `cdktf deploy` of that stack"


def application_clusters(encoded):
    """The application clusters of VAULT_KUBERNETES_CLUSTERS_B64, checked, or one line naming the problem."""
    if not encoded:
        raise input_error(CLUSTERS_VAR, CLUSTERS_VAR, encoded, "is missing or empty", CLUSTERS_FIX)
    try:
        clusters = json.loads(base64.b64decode(encoded, validate=True))
    except ValueError as err:
        raise input_error(CLUSTERS_VAR, CLUSTERS_VAR, encoded[:40], f"is not base64 of JSON ({err})", CLUSTERS_FIX) from None
    if not isinstance(clusters, list) or not clusters:
        # An empty list would remove every application cluster's mount: never on a garbled value.
        raise input_error(CLUSTERS_VAR, CLUSTERS_VAR, clusters, "is not a non-empty JSON array of clusters", CLUSTERS_FIX)
    seen = set()
    for index, cluster in enumerate(clusters):
        where = f"{CLUSTERS_VAR}[{index}]"
        if not isinstance(cluster, dict):
            raise input_error(CLUSTERS_VAR, where, cluster, "is not an object", CLUSTERS_FIX)
        name = cluster.get("name")
        if not isinstance(name, str) or not CLUSTER_NAME.fullmatch(name):
            raise input_error(CLUSTERS_VAR, f"{where}.name", name, "is not a cluster short name (a-z, 0-9, -)", CLUSTERS_FIX)
        if name in seen:
            raise input_error(CLUSTERS_VAR, f"{where}.name", name, "names a cluster listed before", CLUSTERS_FIX)
        seen.add(name)
        if cluster.get("mount") != CLUSTER_MOUNT_PREFIX + name:
            raise input_error(CLUSTERS_VAR, f"{where}.mount", cluster.get("mount"),
                              f"is not {CLUSTER_MOUNT_PREFIX + name!r}, the only mount this Job may make for "
                              f"cluster {name}", CLUSTERS_FIX)
        host = cluster.get("kubernetes_host")
        if not isinstance(host, str) or not re.fullmatch(r"https://[^\s/]+/?", host):
            raise input_error(CLUSTERS_VAR, f"{where}.kubernetes_host", host, "is not the https:// URL of an API server",
                              CLUSTERS_FIX)
        try:
            ca = base64.b64decode(cluster.get("kubernetes_ca_cert_b64") or "", validate=True).decode()
        except ValueError:
            ca = ""
        if "-----BEGIN CERTIFICATE-----" not in ca:
            raise input_error(CLUSTERS_VAR, f"{where}.kubernetes_ca_cert_b64", (cluster.get("kubernetes_ca_cert_b64") or "")[:40],
                              "is not base64 of a PEM certificate (EKS's certificate_authority.data)", CLUSTERS_FIX)
        cluster["kubernetes_ca_cert"] = ca
    return clusters


def cluster_auth_config(cluster):
    """An application cluster's tokens are reviewed with the caller's own JWT
    (disable_local_ca_jwt): its service accounts hold system:auth-delegator there, so Vault
    stores no long-lived token and never sends its own to another cluster."""
    return {"kubernetes_host": cluster["kubernetes_host"], "kubernetes_ca_cert": cluster["kubernetes_ca_cert"],
            "disable_local_ca_jwt": True}


def unlisted_cluster_mounts(vault, clusters):
    """kubernetes-* mounts of clusters no longer in the list (removed only by vault-init: see init.py)."""
    listed = {f"{cluster['mount']}/" for cluster in clusters}
    auths = vault.call("GET", "sys/auth")
    return sorted(path.rstrip("/") for path, mount in auths.get("data", auths).items()
                  if path.startswith(CLUSTER_MOUNT_PREFIX) and mount.get("type") == "kubernetes" and path not in listed)


def configure_kubernetes_auth(vault, clusters):
    """One Kubernetes auth mount per application cluster. The tooling mount "kubernetes" is
    configured by init.py, which also removes the mounts of clusters no longer listed: a
    removal revokes every token and lease the mount issued, so it takes the privileged path."""
    for cluster in clusters:
        if vault.ensure_auth(cluster["mount"], "kubernetes"):
            print(f"enabled Kubernetes auth at {cluster['mount']}/ for cluster {cluster['name']}", flush=True)
        vault.write(f"auth/{cluster['mount']}/config", cluster_auth_config(cluster))


# GitLab CI jobs log in with their own id_tokens JWT (README "GitLab CI -> Vault"). The mount
# trusts the instance's issuer (GITLAB_URL: its discovery document is
# <GITLAB_URL>/.well-known/openid-configuration, its keys at <GITLAB_URL>/oauth/discovery/keys).
CI_MOUNT = "jwt-gitlab"
CI_ROLES = "config/ci-roles.json"
# What every CI role gets besides its bindings; vault-configure.hcl allows exactly these values.
# user_claim: the entity (and the audit log) names the project, not the person who pushed.
CI_ROLE_DEFAULTS = {"role_type": "jwt", "user_claim": "project_path", "bound_claims_type": "string",
                    "token_ttl": "5m", "token_max_ttl": "15m"}
GITLAB_PROJECT_PATH = re.compile(r"[\w.-]+(/[\w.-]+)+")


def ci_role_problems(spec):
    """One line per problem of ci-roles.json (empty: usable); also run offline by
    vault_platform.gitops.vault_checks. A role bound to no project would admit every project's jobs."""
    fix = "see the README section \"GitLab CI -> Vault\""
    audience = spec.get("audience")
    problems = []
    if not isinstance(audience, str) or not audience:
        problems.append(f"{CI_ROLES}: audience = {audience!r}: is missing; fix: name the aud the jobs' id_tokens ask for ({fix})")
    roles = spec.get("roles")
    if not isinstance(roles, dict):
        return problems + [f"{CI_ROLES}: roles = {roles!r}: is not an object of roles; fix: {fix}"]
    for name, role in roles.items():
        where = f"{CI_ROLES}: roles.{name}"
        project = role.get("project_path")
        if not isinstance(project, str) or not GITLAB_PROJECT_PATH.fullmatch(project):
            problems.append(f"{where}.project_path = {project!r}: the role is bound to no project (any project's "
                            "jobs could log in); fix: set the one GitLab project path (group/project) it serves")
        if role.get("ref_type") not in ("branch", "tag"):
            problems.append(f"{where}.ref_type = {role.get('ref_type')!r}: is not branch or tag; fix: set one")
        if not isinstance(role.get("ref_protected"), bool):
            problems.append(f"{where}.ref_protected = {role.get('ref_protected')!r}: is not true or false; "
                            "fix: true, unless unprotected refs may have this role's secrets")
        if "project_id" in role and not re.fullmatch(r"[1-9][0-9]*", str(role["project_id"])):
            problems.append(f"{where}.project_id = {role['project_id']!r}: is not a GitLab project's numeric id; "
                            "fix: the id on the project's overview page (Settings > General), as a string")
        if "project_id" in role and "ref" not in role:
            problems.append(f"{where}.ref = None: a role bound by project_id is bound to one ref (ref_path); fix: name it")
        if "ref" in role and (not isinstance(role["ref"], str) or not role["ref"] or "*" in role["ref"]):
            problems.append(f"{where}.ref = {role['ref']!r}: is not one branch or tag name; fix: name one, or drop ref")
        policies = role.get("token_policies")
        if not isinstance(policies, list) or not policies:
            problems.append(f"{where}.token_policies = {policies!r}: is empty; fix: list the policies (policies/*.hcl)")
    return problems


def ci_role_body(spec, role):
    # GitLab's id_tokens carry ref_protected as the string "true" or "false".
    protected = "true" if role["ref_protected"] else "false"
    if "project_id" in role:
        # The id survives a rename, and a path freed by one cannot be taken over by another
        # project; ref_path names the branch or tag (refs/heads/<ref>, refs/tags/<ref>).
        kind = "heads" if role["ref_type"] == "branch" else "tags"
        claims = {"project_id": str(role["project_id"]), "ref_path": f"refs/{kind}/{role['ref']}",
                  "ref_protected": protected}
    else:
        claims = {"project_path": role["project_path"], "ref_type": role["ref_type"], "ref_protected": protected}
        if "ref" in role:
            claims["ref"] = role["ref"]
    return {**CI_ROLE_DEFAULTS, "bound_audiences": [spec["audience"]], "bound_claims": claims,
            "token_policies": role["token_policies"]}


def gitlab_issuer(url):
    if not url or not re.fullmatch(r"https://[^\s/]+", url):
        raise input_error("GITLAB_URL", "GITLAB_URL", url, "is not the https URL of a GitLab instance (no path)",
                          "it is the tooling platform-vars' GITLAB_URL, the environment's [ci] gitlab_url")
    return url


def ci_roles():
    spec = load("ci-roles.json")
    problems = ci_role_problems(spec)
    if problems:
        raise SystemExit(problems[0])
    return spec


def ci_auth_config(issuer):
    # Vault reads the issuer's discovery document and keys itself, and checks iss against it.
    return {"oidc_discovery_url": issuer, "bound_issuer": issuer}


def configure_ci_auth(vault, spec, issuer):
    if vault.ensure_auth(CI_MOUNT, "jwt"):
        print(f"enabled JWT auth at {CI_MOUNT}/ for GitLab CI ({issuer})", flush=True)
    vault.write(f"auth/{CI_MOUNT}/config", ci_auth_config(issuer))
    for name, role in spec["roles"].items():
        try:
            vault.write(f"auth/{CI_MOUNT}/role/{name}", ci_role_body(spec, role))
        except ApiError as err:
            if err.status != 403:
                raise
            raise SystemExit(f"{CI_ROLES}: role {name} is not one vault-configure.hcl lets this Job write (its "
                             "audience or policies); see `python -m vault_platform.gitops.vault_checks`") from None


# Vault lower-cases policy names when it stores them (and matches ACL paths as written).
POLICY_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
NOT_MANAGED = {SELF, "default", "root"}  # vault-init's, Vault's own: never this Job's


def workload_policies():
    """policies/<name>.hcl by name, but vault-configure's own (vault-init applies it)."""
    policies = {}
    for path in sorted(glob.glob(os.path.join(POLICY_DIR, "*.hcl"))):
        name = os.path.basename(path)[: -len(".hcl")]
        if name == SELF:
            continue
        if not POLICY_NAME.fullmatch(name) or name in NOT_MANAGED:
            raise input_error(f"policies/{name}.hcl", "file name", name, "is not a policy this Job may manage "
                              "(lower-case a-z, 0-9, -; never default or root)", "rename the file")
        with open(path) as f:
            policies[name] = f.read()
    return policies


def configure_policies(vault, policies=None):
    for name, policy in (policies if policies is not None else workload_policies()).items():
        current = vault.read(f"sys/policies/acl/{name}")
        if current and current.get("data", {}).get("policy") == policy:
            continue
        try:
            vault.write(f"sys/policies/acl/{name}", {"policy": policy})
        except ApiError as err:
            raise SystemExit(f"policies/{name}.hcl: Vault refused the policy ({err}); check it offline with "
                             "`python -m vault_platform.gitops.vault_checks` (OpenBao's parser)") from None
        print(f"wrote policy {name}", flush=True)


# roles.json's key for the roles every application cluster's mount gets.
EVERY_APPLICATION_CLUSTER = CLUSTER_MOUNT_PREFIX + "*"


def kubernetes_roles(spec, clusters):
    """(mount, role, body) of every Kubernetes auth role of roles.json, one per listed cluster for "kubernetes-*"."""
    for key, roles in spec.items():
        if key != "kubernetes" and key != EVERY_APPLICATION_CLUSTER:
            raise input_error("config/roles.json", key, key, "is not a mount this Job manages",
                              f'use "kubernetes" (the tooling cluster) or "{EVERY_APPLICATION_CLUSTER}" (every application cluster)')
        mounts = [c["mount"] for c in clusters] if key == EVERY_APPLICATION_CLUSTER else [key]
        for role, body in roles.items():
            if not POLICY_NAME.fullmatch(role) or role == SELF:
                raise input_error("config/roles.json", f"{key}.{role}", role, "is not a role name this Job may manage "
                                  f"(lower-case a-z, 0-9, -; never {SELF})", "rename the role")
            for mount in mounts:
                yield mount, role, body


def configure_roles(vault, clusters):
    for mount, role, body in kubernetes_roles(load("roles.json"), clusters):
        vault.write(f"auth/{mount}/role/{role}", body)


ADMIN_SECRET = "kv/data/platform/database-admin"


def connection_url():
    for key in ("DATABASE_HOST", "DATABASE_PORT", "DATABASE_NAME"):
        if not re.fullmatch(r"[A-Za-z0-9._-]+", os.environ.get(key, "")):
            raise input_error(key, key, os.environ.get(key), "is not a host name, port or database name",
                              "it is the tooling platform-vars' (the database stack's outputs); re-run `cdktf deploy`")
    host, port, db = (os.environ[k] for k in ("DATABASE_HOST", "DATABASE_PORT", "DATABASE_NAME"))
    # sslmode=require: RDS runs with rds.force_ssl=1.
    return f"postgresql://{{{{username}}}}:{{{{password}}}}@{host}:{port}/{db}?sslmode=require"


def bootstrap_statements(spec):
    """SQL that makes Vault's own login and lets it hand out the access roles, run once.

    Idempotent (a re-run after a crash resets the password). PostgreSQL 16: CREATEROLE
    alone no longer lets a role grant other roles; it needs ADMIN OPTION on each, which
    the master (their creator) can give.
    """
    # {{name}} and {{password}} are filled in by Vault (the login is named by username_template).
    login = "ROLE \"{{name}}\" WITH LOGIN CREATEROLE PASSWORD '{{password}}'"
    statements = [
        "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{{name}}') "
        f"THEN ALTER {login}; ELSE CREATE {login}; END IF; END $$;"
    ]
    for role in sorted(spec["access_roles"]):
        statements += [
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') "
            f"THEN CREATE ROLE \"{role}\" NOLOGIN; END IF; END $$;",
            # ADMIN only: Vault hands the role out but neither holds nor uses its privileges.
            f"GRANT \"{role}\" TO \"{{{{name}}}}\" WITH ADMIN TRUE, INHERIT FALSE, SET FALSE;",
        ]
    return statements


def connection_body(url, username, password, allowed_roles):
    return {"plugin_name": "postgresql-database-plugin", "connection_url": url, "username": username,
            "password": password, "password_authentication": "scram-sha-256", "allowed_roles": allowed_roles,
            "verify_connection": True}


def bootstrap_connection_body(url, master, bootstrap, spec):
    return {**connection_body(url, master["username"], master["password"], [bootstrap]),
            "username_template": spec["vault_user"]}


def bootstrap_role_body(bootstrap, spec):
    return {"db_name": bootstrap, "creation_statements": bootstrap_statements(spec),
            # Revoking this lease must leave Vault's login in place: it outlives the bootstrap.
            "revocation_statements": ['ALTER ROLE "{{name}}" VALID UNTIL \'infinity\';'],
            "default_ttl": "5m", "max_ttl": "5m"}


def database_role_body(connection, body):
    return dict(body, db_name=connection)


def issue_vault_login(vault, spec, master, bootstrap):
    """Vault runs bootstrap_statements as the master through a throw-away connection and role;
    the one credential it returns is Vault's own login. Its lease is revoked at once."""
    vault.write(f"database/config/{bootstrap}", bootstrap_connection_body(connection_url(), master, bootstrap, spec))
    vault.write(f"database/roles/{bootstrap}", bootstrap_role_body(bootstrap, spec))
    login = vault.read(f"database/creds/{bootstrap}")
    vault.write(f"sys/leases/revoke/{login['lease_id']}", {})
    return login


def bootstrap_database_login(vault, spec):
    """First run: Vault gets its own PostgreSQL login, never the RDS master user.

    RDS keeps the master password in Secrets Manager and rotates it on its own schedule,
    so Vault must not hold (or rotate) it. The master credential, handed over once in kv,
    is used only to create the login ``vault_user`` (through a short-lived connection whose
    one role runs bootstrap_statements), then deleted from Vault; rotate-root leaves the
    new login's password known to Vault alone. This Job needs no PostgreSQL driver.
    """
    admin = vault.read(ADMIN_SECRET)
    if admin is None:
        print(f"WARNING: {ADMIN_SECRET.replace('/data/', '/', 1)} is missing: database engine not "
              "configured. Put the RDS master secret there (README, \"Vault's database engine\") and "
              "re-run this Job.", flush=True)
        return False
    name, bootstrap = spec["connection"], f"{spec['connection']}-bootstrap"
    try:
        login = issue_vault_login(vault, spec, admin["data"]["data"], bootstrap)
    except ApiError as err:
        raise SystemExit(f"database bootstrap failed ({err}): check that {ADMIN_SECRET.replace('/data/', '/', 1)} "
                         "holds the RDS master secret (username, password) and that DATABASE_HOST/PORT/NAME "
                         "reach the database; then re-run this Job") from None
    finally:
        # The throw-away connection holds the master password: it never outlives this call.
        for path in (f"database/roles/{bootstrap}", f"database/config/{bootstrap}"):
            try:
                vault.call("DELETE", path)
            except ApiError:
                pass
    vault.write(f"database/config/{name}", connection_body(connection_url(), login["data"]["username"],
                                                           login["data"]["password"], sorted(spec["roles"])))
    vault.write(f"database/rotate-root/{name}", {})
    vault.call("DELETE", ADMIN_SECRET.replace("/data/", "/metadata/", 1))
    print(f"configured {name} with its own login {spec['vault_user']!r} (password rotated, known "
          f"to Vault only); deleted the master credential from "
          f"{ADMIN_SECRET.replace('/data/', '/', 1)}", flush=True)
    return True


def check_database_spec(spec):
    """One line naming config/database.json, the field and the fix, before anything is written."""
    where = "config/database.json"
    for key in ("connection", "vault_user", "access_roles", "roles"):
        if not spec.get(key):
            raise SystemExit(f"{where}: {key} is missing or empty; see the README's database section")
    for access_role in spec["access_roles"]:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", access_role):
            raise SystemExit(f"{where}: access role {access_role!r} is not a plain lower-case SQL name "
                             "(letters, digits, _): rename it")
    for role, body in spec["roles"].items():
        for field in ("creation_statements", "revocation_statements"):
            if not body.get(field):
                # Vault's default revocation revokes on every table in the schema: it fails on
                # tables other roles own, and the lease could never be revoked.
                raise SystemExit(f"{where}: role {role}: {field} is empty: write it out "
                                 '(revocation: DROP ROLE IF EXISTS "{{name}}";)')


def configure_database(vault, spec=None):
    if spec is None:
        spec = load("database.json")
        check_database_spec(spec)
    name = spec["connection"]
    current = vault.read(f"database/config/{name}")
    login = current and current["data"]["connection_details"].get("username")
    if current is None or login != spec["vault_user"]:
        if current is not None:
            # A Vault configured before it had its own login holds the RDS master user.
            print(f"database/config/{name} logs in as {login!r}, not {spec['vault_user']!r}: "
                  "moving Vault to its own login", flush=True)
        if not bootstrap_database_login(vault, spec):
            return
    for role, body in spec["roles"].items():
        vault.write(f"database/roles/{role}", database_role_body(name, body))


def job_inputs():
    """Everything the Job applies (and its policy is rendered from), checked before any call to Vault."""
    clusters = application_clusters(os.environ.get(CLUSTERS_VAR, ""))
    database = load("database.json")
    check_database_spec(database)
    # No GITLAB_URL: the environment has no [ci] table and trusts no GitLab instance.
    issuer = gitlab_issuer(os.environ["GITLAB_URL"]) if os.environ.get("GITLAB_URL") else None
    inputs = {"clusters": clusters, "issuer": issuer, "ci": ci_roles() if issuer else None,
              "database": database, "connection_url": connection_url(), "roles": load("roles.json"),
              "policies": workload_policies()}
    check_role_policies(inputs)
    return inputs


def check_role_policies(inputs):
    """A role may hand out only policies of policies/ (Vault itself accepts any name: a typo would
    fail at login, a missing file would leave a policy nobody manages)."""
    known = set(inputs["policies"]) | {"default"}
    named = [("config/roles.json", f"{key}.{role}", body.get("token_policies"))
             for key, roles in inputs["roles"].items() for role, body in roles.items()]
    ci_roles_ = (inputs["ci"] or {"roles": {}})["roles"]
    named += [(CI_ROLES, f"roles.{name}", role.get("token_policies")) for name, role in ci_roles_.items()]
    for source, where, policies in named:
        unknown = [p for p in policies or [] if p not in known]
        if unknown:
            raise input_error(source, f"{where}.token_policies", policies, f"names {', '.join(unknown)}, which "
                              "policies/ does not have", "fix the name or add the policy file")


POLICY_FIX = ("apply it with the bootstrap-token path (README \"Recover a failed Vault bootstrap\"): "
              "a change to what this Job may write is a privileged change")


def policy_rules(text):
    """Rule text by path of a policy this module renders (one `path "..."` block each)."""
    blocks = re.findall(r'^path "([^"]+)"(.*?)(?=^path "|\Z)', text, re.MULTILINE | re.DOTALL)
    return {path: re.sub(r"(?m)^#.*\n?", "", body).strip() for path, body in blocks}


def check_own_policy(vault, inputs):
    """Vault's copy of this Job's policy must be the one Git and platform-vars render now: else
    what the Job would write is not what it may write (a new cluster, policy or role)."""
    from job_policy import render  # job_policy imports this module

    wanted = render(inputs)
    current = (vault.read(f"sys/policies/acl/{SELF}") or {}).get("data", {}).get("policy", "")
    if current != wanted:
        now, then = policy_rules(wanted), policy_rules(current)
        differ = sorted(path for path in now.keys() | then.keys() if now.get(path) != then.get(path))
        raise SystemExit(f"policy {SELF} in Vault is not the one Git and platform-vars give (differs at "
                         f"{', '.join(differ) or 'its comments'}); fix: {POLICY_FIX}")


def main():
    # Every input is checked before the first call to Vault.
    inputs = job_inputs()
    clusters, issuer, ci = inputs["clusters"], inputs["issuer"], inputs["ci"]
    vault = Vault()
    vault.wait_until_reachable()
    vault.login_kubernetes("kubernetes", SELF)
    check_own_policy(vault, inputs)
    configure_audit(vault)
    configure_engines(vault)
    configure_kubernetes_auth(vault, clusters)
    for mount in unlisted_cluster_mounts(vault, clusters):
        print(f"WARNING: auth mount {mount} is no longer in {CLUSTERS_VAR} and still admits its cluster's logins: "
              "vault-init removes it (revoking every token and lease it issued) on a bootstrap-token run whose "
              "Secret names it in remove-mounts (README \"Recover a failed Vault bootstrap\")", flush=True)
    configure_policies(vault, inputs["policies"])
    configure_roles(vault, clusters)
    if issuer:
        configure_ci_auth(vault, ci, issuer)
    else:
        print(f"no GITLAB_URL (the environment has no [ci] table): {CI_MOUNT}/ not configured", flush=True)
    configure_database(vault, inputs["database"])
    # A Job that could not finish must fail (Flux then shows the Kustomization not ready and
    # the Job is retried), never report success on a Vault that cannot issue credentials.
    connection = load("database.json")["connection"]
    if vault.read(f"database/config/{connection}") is None:
        raise SystemExit(f"vault-configure is incomplete: the database engine has no connection {connection} "
                         "(see the lines above); fix that and re-run this Job")
    print("Vault configuration applied", flush=True)


if __name__ == "__main__":
    main()
