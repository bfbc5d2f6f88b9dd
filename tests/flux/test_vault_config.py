"""Vault's configuration in Git, checked offline before deploy (vault_platform.gitops.vault_checks):
GIVEN the repository THEN no problem; GIVEN one broken copy THEN one line naming the file and
the problem. The same mistakes against a running server: tests/vault/test_bad_input.py."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from vault_platform.gitops import vault_checks
from vault_platform.gitops.platform_vars import vault_kubernetes_cluster
from vault_platform.gitops.vault_checks import FLUX_DIR, HELMRELEASE, VAULT_CONFIG_DIR

ROLES = VAULT_CONFIG_DIR / "config" / "roles.json"
POLICIES = VAULT_CONFIG_DIR / "policies"


def test_the_repository_passes_every_vault_check():
    assert vault_checks.check_raft_config() == []
    assert vault_checks.check_policy_syntax() == []
    assert vault_checks.check_roles() == []
    assert vault_checks.check_configure_policy() == []
    assert vault_checks.check_ci_roles() == []


def copy_policies(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target)
    return target


def edited_roles(tmp_path: Path, mount: str, role: str, **changes) -> Path:
    roles = json.loads(ROLES.read_text())
    roles[mount][role].update(changes)
    path = tmp_path / "roles.json"
    path.write_text(json.dumps(roles))
    return path


def edited_raft_config(tmp_path: Path, old: str, new: str) -> Path:
    release = yaml.safe_load(HELMRELEASE.read_text())
    raft = release["spec"]["values"]["server"]["ha"]["raft"]
    assert old in raft["config"]
    raft["config"] = raft["config"].replace(old, new)
    path = tmp_path / "helmrelease.yaml"
    path.write_text(yaml.safe_dump(release))
    return path


@pytest.mark.parametrize(("text", "reason"), [
    ('path "kv/*" { capabilities = ["read"] \n', "RBRACE"),
    ('path "kv/*" { capabilities = ["reed"] }\n', 'invalid capability "reed"'),
    ('path "kv/*" { capabilites = ["read"] }\n', 'invalid key "capabilites"'),
])
def test_a_policy_openbao_cannot_parse_is_one_line_naming_the_file(tmp_path, text, reason):
    policies = copy_policies(tmp_path)
    (policies / "broken.hcl").write_text(text)
    (problem,) = vault_checks.check_policy_syntax(policies)
    assert "broken.hcl: OpenBao cannot parse this policy" in problem and reason in problem
    assert "\n" not in problem


def test_a_role_naming_a_policy_that_does_not_exist(tmp_path):
    roles = edited_roles(tmp_path, "kubernetes", "gitlab-runner", token_policies=["gitlab-runer"])
    (problem,) = vault_checks.check_roles(roles)
    assert problem.startswith(f"{roles}: role kubernetes/gitlab-runner names policy gitlab-runer")


def test_a_role_naming_a_service_account_its_cluster_does_not_create(tmp_path):
    # demo-app exists, but on the application cluster: the tooling mount cannot admit it.
    roles = edited_roles(tmp_path, "kubernetes", "gitlab-runner", bound_service_account_namespaces=["demo"],
                         bound_service_account_names=["demo-app"])
    (problem,) = vault_checks.check_roles(roles)
    assert "binds service account demo/demo-app, which the tooling cluster's Flux tree" in problem


def test_the_configure_policy_grants_exactly_the_policies_and_roles_of_the_files():
    assert vault_checks.check_configure_policy() == []
    granted = set(vault_checks.GRANTED_PATH.findall(vault_checks.rendered_configure_policy()))
    assert vault_checks.managed_paths() <= granted
    assert not [p for p in granted if "*" in p and not p.startswith("sys/leases/revoke/")]


def test_a_policy_file_vault_would_store_under_another_name_is_one_line(tmp_path):
    policies = copy_policies(tmp_path)
    (policies / "Default.hcl").write_text('path "kv/*" { capabilities = ["read"] }\n')
    (problem,) = vault_checks.check_configure_policy(policies)
    assert problem.startswith("policies/Default.hcl: file name = 'Default': is not a policy this Job may manage")
    assert "fix: rename the file" in problem


def test_a_raft_config_without_retry_join(tmp_path):
    release = yaml.safe_load(HELMRELEASE.read_text())
    config = release["spec"]["values"]["server"]["ha"]["raft"]["config"]
    start, end = config.index("  retry_join"), config.rindex("}\n", 0, config.index('seal "awskms"'))
    helmrelease = edited_raft_config(tmp_path, config[start:end], "")
    (problem,) = vault_checks.check_raft_config(helmrelease)
    assert "spec.values.server.ha.raft.config: no retry_join" in problem


def test_a_raft_config_missing_one_pod(tmp_path):
    helmrelease = edited_raft_config(tmp_path, "vault-2.vault-internal", "vault-1.vault-internal")
    (problem,) = vault_checks.check_raft_config(helmrelease)
    assert "retry_join names pods [0, 1, 1]" in problem and "server.ha.replicas is 3" in problem


def test_a_raft_config_without_a_seal(tmp_path):
    helmrelease = edited_raft_config(tmp_path, 'seal "awskms"', 'unused "awskms"')
    (problem,) = vault_checks.check_raft_config(helmrelease)
    assert 'no seal "awskms" stanza' in problem


def test_service_accounts_are_read_per_cluster():
    assert ("vault", "vault-configure") in vault_checks.service_accounts("tooling", FLUX_DIR)
    assert ("demo", "demo-app") in vault_checks.service_accounts("application", FLUX_DIR)
    assert ("demo", "demo-app") not in vault_checks.service_accounts("tooling", FLUX_DIR)


def test_auth_delegators_are_read_per_cluster():
    # Vault reviews tooling logins with its own service account (the chart's authDelegator); the
    # application cluster's workloads review their own tokens (their ClusterRoleBindings).
    assert vault_checks.auth_delegators("tooling", FLUX_DIR) == {("vault", "vault")}
    assert vault_checks.auth_delegators("application", FLUX_DIR) == {("demo", "demo-app"),
                                                                     ("external-secrets", "vault-login")}


@pytest.mark.parametrize("cluster", ["tooling", "application"])
def test_eso_logs_in_to_vault_as_an_account_that_can_only_review_tokens(cluster):
    # On an application cluster Vault forwards the login JWT to that cluster's API server
    # (disable_local_ca_jwt): ESO's controller token (it can mint tokens for any account) must
    # never be the one; the login account holds nothing but system:auth-delegator.
    release = yaml.safe_load((FLUX_DIR / "infrastructure" / "external-secrets" / "helmrelease.yaml").read_text())
    controller = (release["spec"]["targetNamespace"], release["spec"]["values"]["serviceAccount"]["name"])

    objects = [obj for obj, _namespace in vault_checks.flux_objects(cluster, FLUX_DIR)]
    stores = [obj for obj in objects if obj.get("kind") == "ClusterSecretStore"]
    roles = json.loads((VAULT_CONFIG_DIR / "config" / "roles.json").read_text())
    mount = "kubernetes" if cluster == "tooling" else "kubernetes-*"
    # The shared store "vault" on every cluster; the tooling cluster also has the image
    # automation's own (flux/infrastructure/image-automation), each with a login account of its own.
    assert {store["metadata"]["name"] for store in stores} == (
        {"vault", "vault-image-automation"} if cluster == "tooling" else {"vault"})
    for store in stores:
        auth = store["spec"]["provider"]["vault"]["auth"]["kubernetes"]
        ref = auth["serviceAccountRef"]
        account = (ref["namespace"], ref["name"])
        assert account != controller
        assert account in vault_checks.service_accounts(cluster, FLUX_DIR)
        bound = {obj["roleRef"]["name"] for obj in objects if obj.get("kind") in ("RoleBinding", "ClusterRoleBinding")
                 and any((s.get("namespace"), s.get("name")) == account for s in obj.get("subjects", []))}
        assert bound == ({"system:auth-delegator"} if cluster == "application" else set())
        role = roles[mount][auth["role"]]
        assert (role["bound_service_account_namespaces"], role["bound_service_account_names"]) == ([ref["namespace"]], [ref["name"]])


# --- VAULT_KUBERNETES_CLUSTERS_B64, as the configure Job reads it -------------------------------
CONFIGURE = VAULT_CONFIG_DIR / "scripts" / "configure.py"
CA_B64 = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").decode()


def cluster(name: str = "application", **changes) -> dict:
    return {**vault_kubernetes_cluster(name, "https://abc.gr7.eu-west-1.eks.amazonaws.com", CA_B64), **changes}


def encoded(value) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def run_configure(clusters_b64: str | None, gitlab_url: str = "https://gitlab.example.com",
                  config_dir: Path = VAULT_CONFIG_DIR / "config") -> subprocess.CompletedProcess[str]:
    """configure.py with no VAULT_ADDR: a run that got past its input check would die on that
    KeyError, so a clean one-line exit proves the check came before any call to Vault."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1", "GITLAB_URL": gitlab_url,
           "CONFIG_DIR": str(config_dir), "POLICY_DIR": str(VAULT_CONFIG_DIR / "policies"),
           "DATABASE_HOST": "db.example", "DATABASE_PORT": "5432", "DATABASE_NAME": "platform"}
    if clusters_b64 is not None:
        env["VAULT_KUBERNETES_CLUSTERS_B64"] = clusters_b64
    return subprocess.run([sys.executable, str(CONFIGURE)], env=env, capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize(("clusters_b64", "field", "problem"), [
    (None, "VAULT_KUBERNETES_CLUSTERS_B64", "is missing or empty"),
    ("not base64!", "VAULT_KUBERNETES_CLUSTERS_B64", "is not base64 of JSON"),
    (encoded([]), "VAULT_KUBERNETES_CLUSTERS_B64", "is not a non-empty JSON array"),
    (encoded([{k: v for k, v in cluster().items() if k != "name"}]), "VAULT_KUBERNETES_CLUSTERS_B64[0].name", "is not a cluster short name"),
    (encoded([cluster(), cluster()]), "VAULT_KUBERNETES_CLUSTERS_B64[1].name", "names a cluster listed before"),
    (encoded([cluster(mount="kubernetes")]), "VAULT_KUBERNETES_CLUSTERS_B64[0].mount", "is not 'kubernetes-application'"),
    (encoded([cluster(kubernetes_host="http://10.0.0.1")]), "VAULT_KUBERNETES_CLUSTERS_B64[0].kubernetes_host", "https://"),
    (encoded([cluster(kubernetes_ca_cert_b64="bm90IGEgY2VydA==")]), "VAULT_KUBERNETES_CLUSTERS_B64[0].kubernetes_ca_cert_b64",
     "is not base64 of a PEM certificate"),
], ids=["missing", "not-base64", "empty", "no-name", "duplicate", "the-tooling-mount", "http-host", "not-a-certificate"])
def test_bad_application_clusters_stop_the_configure_job_before_it_calls_vault(clusters_b64, field, problem):
    run = run_configure(clusters_b64)
    assert run.returncode != 0
    assert run.stdout == "" and "\n" not in run.stderr.strip(), run.stderr
    line = run.stderr.strip()
    assert line.startswith(f"VAULT_KUBERNETES_CLUSTERS_B64: {field} = ") and problem in line and "; fix: " in line


def test_the_mount_terraform_derives_is_the_one_the_configure_job_accepts():
    # Without a Vault the good input gets past the check and stops at the missing VAULT_ADDR.
    run = run_configure(encoded([cluster("application"), cluster("eu-payments")]))
    assert "KeyError: 'VAULT_ADDR'" in run.stderr


# --- GitLab CI roles (config/ci-roles.json) ------------------------------------------------------
CI_ROLES = VAULT_CONFIG_DIR / "config" / "ci-roles.json"


def edited_ci_roles(directory: Path, role: str, **changes) -> Path:
    spec = json.loads(CI_ROLES.read_text())
    spec["roles"][role].update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del spec["roles"][role][key]
    shutil.copytree(VAULT_CONFIG_DIR / "config", directory)
    (directory / "ci-roles.json").write_text(json.dumps(spec))
    return directory / "ci-roles.json"


@pytest.mark.parametrize(("changes", "line"), [
    ({"project_path": None}, "roles.vault-platform-main.project_path = None: the role is bound to no project"),
    ({"project_path": "vault-platform"}, "roles.vault-platform-main.project_path = 'vault-platform': the role is bound to no project"),
    ({"ref_protected": "yes"}, "roles.vault-platform-main.ref_protected = 'yes': is not true or false"),
    ({"ref_type": None}, "roles.vault-platform-main.ref_type = None: is not branch or tag"),
    ({"ref": "release/*"}, "roles.vault-platform-main.ref = 'release/*': is not one branch or tag name"),
    ({"project_id": "platform"}, "roles.vault-platform-main.project_id = 'platform': is not a GitLab project's numeric id"),
], ids=["no-project", "not-a-project-path", "ref-protected-not-bool", "no-ref-type", "ref-pattern", "project-id"])
def test_a_bad_ci_role_is_one_line_offline_and_stops_the_configure_job(tmp_path, changes, line):
    ci_roles = edited_ci_roles(tmp_path / "config", "vault-platform-main", **changes)
    (problem,) = vault_checks.check_ci_roles(ci_roles)
    assert problem.startswith(f"{ci_roles}: {line}") and "; fix: " in problem
    run = run_configure(encoded([cluster()]), config_dir=ci_roles.parent)
    assert run.returncode != 0 and run.stderr.strip() == f"config/ci-roles.json: {problem.split(': ', 1)[1]}"


def test_a_ci_role_naming_a_policy_that_does_not_exist(tmp_path):
    ci_roles = edited_ci_roles(tmp_path / "config", "vault-platform-main", token_policies=["ci-nope"])
    problems = vault_checks.check_ci_roles(ci_roles)
    assert problems[0] == (f"{ci_roles}: role vault-platform-main names policy ci-nope, which "
                           "flux/infrastructure/vault-config/policies does not have; add ci-nope.hcl there or fix the name")


def test_no_gitlab_url_means_no_ci_trust_not_a_failed_job():
    """An environment without [ci] has no GITLAB_URL in its platform-vars (the job reads
    ${GITLAB_URL:=}): configure.py then skips the jwt-gitlab mount instead of refusing to
    run, and gets past its input checks to the first call to Vault (no VAULT_ADDR here)."""
    run = run_configure(encoded([cluster()]), gitlab_url="")
    assert run.returncode != 0 and "GITLAB_URL" not in run.stderr and "VAULT_ADDR" in run.stderr


@pytest.mark.parametrize("url", ["http://gitlab.example.com", "https://gitlab.example.com/group"])
def test_a_bad_gitlab_url_stops_the_configure_job_before_it_calls_vault(url):
    run = run_configure(encoded([cluster()]), gitlab_url=url)
    assert run.returncode != 0
    assert run.stderr.strip().startswith(f"GITLAB_URL: GITLAB_URL = {url!r}: is not the https URL of a GitLab instance")


def _acl_paths_overlap(a: str, b: str) -> bool:
    """Whether some request path matches both ACL patterns (a trailing * is a prefix glob)."""
    assert "+" not in a + b, "segment wildcards: extend this check"
    a_prefix, b_prefix = a.endswith("*"), b.endswith("*")
    a, b = a.rstrip("*"), b.rstrip("*")
    if a_prefix and b_prefix:
        return a.startswith(b) or b.startswith(a)
    if a_prefix:
        return b.startswith(a)
    if b_prefix:
        return a.startswith(b)
    return a == b


def test_the_runners_policy_reaches_no_projects_ci_secrets():
    # A job on the shared runner holds the runner's token: it must not read what a project's
    # own jobs (their ID token, ci-roles.json) may read.
    roles = json.loads((VAULT_CONFIG_DIR / "config" / "roles.json").read_text())
    ci = json.loads((VAULT_CONFIG_DIR / "config" / "ci-roles.json").read_text())
    paths = {name: vault_checks.GRANTED_PATH.findall((VAULT_CONFIG_DIR / "policies" / f"{name}.hcl").read_text())
             for name in {p for r in ci["roles"].values() for p in r["token_policies"]}
             | set(roles["kubernetes"]["gitlab-runner"]["token_policies"])}
    runner = roles["kubernetes"]["gitlab-runner"]["token_policies"]
    overlaps = [(r, c) for name in runner for r in paths[name]
                for ci_policy in {p for role in ci["roles"].values() for p in role["token_policies"]}
                for c in paths[ci_policy]]
    assert not [pair for pair in overlaps if _acl_paths_overlap(*pair)]
