"""vault-configure's policy: exactly the writes configure.py makes, rendered from Git and Terraform.

Every rule is an exact path (never a glob, so no case or name variant reaches anything else)
and every parameter the Job sends is pinned to the one value it sends and required (Vault's
ACL checks allowed_parameters only for keys present: an omitted key would keep or default
its value). A parameter that is not listed cannot be sent at all. So the token can only
re-write what Git and the platform's addresses already say; changing any of them is a
privilege change, applied by vault-init with a root token (README "Recover a failed Vault
bootstrap": the bootstrap-token path), never by the Job itself.

Rendered by init.py (which applies it) and by configure.py (which refuses to run when
Vault's copy is not this one: its inputs changed since the last privileged apply).
policies/vault-configure.hcl is the part that names nothing of Git's or Terraform's.
"""

import collections
import json
import os

import configure as job

SELF = job.SELF


def hcl_value(value):
    """A value in HCL: strings JSON-escaped (HCL accepts the same escapes), lists and maps nested."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(hcl_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {hcl_value(v)}" for k, v in sorted(value.items())) + " }"
    raise TypeError(f"no HCL form for {value!r}")


Grant = collections.namedtuple("Grant", "path capabilities body unpinned")
Grant.__doc__ = """One rule: ``capabilities`` on exactly ``path``; ``body`` None (no parameters
checked: reads, deletes, parameterless updates) or the exact parameters configure.py sends, and
``unpinned`` keys that may carry any value (secrets the renderer cannot know)."""


def pinned(path, capabilities, body, unpinned=()):
    for key, value in body.items():
        # Vault matches an allowed string value with a leading or trailing * as a glob.
        if isinstance(value, str) and (value.startswith("*") or value.endswith("*")):
            raise job.input_error(path, key, value, "starts or ends with *, which Vault's ACL reads as a glob",
                                  "remove the *")
    return Grant(path, capabilities, body, tuple(unpinned))


def plain(path, capabilities):
    return Grant(path, capabilities, None, ())


def rule_text(grant):
    if grant.body is None:
        return f'path "{grant.path}" {{ capabilities = {hcl_value(grant.capabilities)} }}'
    lines = [f'path "{grant.path}" {{', f"  capabilities = {hcl_value(grant.capabilities)}", "  allowed_parameters = {"]
    lines += [f"    {json.dumps(key)} = [{hcl_value(value)}]" for key, value in sorted(grant.body.items())]
    lines += [f"    {json.dumps(key)} = []" for key in grant.unpinned]
    lines.append("  }")
    # Vault applies required_parameters to reads too (a read carries none, so it is refused):
    # where the Job reads, an omitted parameter keeps the stored (pinned) value or Vault's
    # harmless default; everywhere else each one is required.
    if "read" not in grant.capabilities:
        lines.append(f"  required_parameters = {hcl_value(sorted([*grant.body, *grant.unpinned]))}")
    return "\n".join(lines + ["}"])


WRITE = ["create", "update"]
READ_WRITE = ["create", "read", "update"]  # what configure.py compares before it writes


def rules(inputs):
    """(comment, rule) pairs: one per write configure.py makes."""
    out = [("The audit device, at the file on the audit volume.",
            pinned("sys/audit/file", ["create", "update", "sudo"], job.audit_body()))]
    for name, text in sorted(inputs["policies"].items()):
        out.append((f"policies/{name}.hcl, its content as in Git.", pinned(f"sys/policies/acl/{name}", READ_WRITE, {"policy": text})))
    for mount, role, body in job.kubernetes_roles(inputs["roles"], inputs["clusters"]):
        out.append((f"config/roles.json: {mount}/{role}.", pinned(f"auth/{mount}/role/{role}", WRITE, body)))
    for cluster in inputs["clusters"]:
        mount = cluster["mount"]
        out.append((f"Application cluster {cluster['name']}: its mount, reviewed at its own API server only.",
                    pinned(f"sys/auth/{mount}", ["create", "update", "sudo"], {"type": "kubernetes"})))
        out.append(("", pinned(f"auth/{mount}/config", WRITE, job.cluster_auth_config(cluster))))
    if inputs["issuer"]:  # without [ci] (no GITLAB_URL) the Job may not create the jwt mount at all
        out.append((f"GitLab CI ({inputs['issuer']}): the mount, its issuer, the roles of config/ci-roles.json.",
                    pinned(f"sys/auth/{job.CI_MOUNT}", ["create", "update", "sudo"], {"type": "jwt"})))
        out.append(("", pinned(f"auth/{job.CI_MOUNT}/config", WRITE, job.ci_auth_config(inputs["issuer"]))))
        for name, role in sorted(inputs["ci"]["roles"].items()):
            out.append(("", pinned(f"auth/{job.CI_MOUNT}/role/{name}", WRITE, job.ci_role_body(inputs["ci"], role))))
    database = inputs["database"]
    name, bootstrap = database["connection"], f"{database['connection']}-bootstrap"
    url = inputs["connection_url"]
    connection = job.connection_body(url, database["vault_user"], "", sorted(database["roles"]))
    del connection["password"]  # rotated by Vault: known to no one, so it cannot be pinned (nor used)
    out.append((f"config/database.json: connection {name} at the database of platform-vars, as Vault's own login.",
                pinned(f"database/config/{name}", READ_WRITE, connection, ["password"])))
    out.append(("", plain(f"database/rotate-root/{name}", ["update"])))
    for role, body in sorted(database["roles"].items()):
        out.append(("", pinned(f"database/roles/{role}", WRITE, job.database_role_body(name, body))))
    bootstrap_connection = job.bootstrap_connection_body(url, {"username": "", "password": ""}, bootstrap, database)
    for key in ("username", "password"):
        del bootstrap_connection[key]  # the RDS master's, read from kv by this Job on the first run only
    out += [
        ("The one-time bootstrap of Vault's login (configure.py, bootstrap_database_login): its own SQL only.",
         pinned(f"database/config/{bootstrap}", ["create", "update", "delete"], bootstrap_connection,
                ["username", "password"])),
        ("", pinned(f"database/roles/{bootstrap}", ["create", "update", "delete"], job.bootstrap_role_body(bootstrap, database))),
        ("", plain(f"database/creds/{bootstrap}", ["read"])),
        ("", plain(f"sys/leases/revoke/database/creds/{bootstrap}/*", ["update"])),
    ]
    return out


def grants(inputs):
    return [grant for _comment, grant in rules(inputs)]


def render(inputs):
    with open(os.path.join(job.POLICY_DIR, f"{SELF}.hcl")) as f:
        head = f.read()
    parts = [head.rstrip("\n"), "", "# --- Rendered by scripts/job_policy.py from Git and platform-vars: do not edit in Vault. ---"]
    for comment, rule in rules(inputs):
        if comment:
            parts.append(f"# {comment}")
        parts.append(rule_text(rule))
    return "\n".join(parts) + "\n"
