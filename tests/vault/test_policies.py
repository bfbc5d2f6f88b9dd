"""Each policy in flux/infrastructure/vault-config/policies/, both ways, against the server: the
token a workload gets by its real Kubernetes login may do what its policy's table says and
nothing the table forbids. vault-configure's table is the proof that it cannot widen its own
access (the narrowing described in vault-configure.hcl)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.vault.conftest import Bootstrapped
from vault_platform.gitops.vault_checks import VAULT_CONFIG_DIR, configure_script

pytestmark = pytest.mark.integration

POLICY_DIR = VAULT_CONFIG_DIR / "policies"
ROLES = json.loads((VAULT_CONFIG_DIR / "config" / "roles.json").read_text())
CI = json.loads((VAULT_CONFIG_DIR / "config" / "ci-roles.json").read_text())
CI_ROLE = CI["roles"]["vault-platform-main"]
EVERYTHING = 'path "*" { capabilities = ["create", "read", "update", "delete", "list", "sudo"] }'


@dataclass(frozen=True)
class Login:
    mount: str
    role: str
    namespace: str
    account: str


# Who holds each policy, logging in as the workload does (roles.json; vault-configure: init.py).
HOLDERS = {
    "external-secrets": Login("kubernetes", "external-secrets", "external-secrets", "vault-login"),
    "gitlab-runner": Login("kubernetes", "gitlab-runner", "gitlab-runner", "gitlab-runner"),
    "demo-app": Login("kubernetes-application", "demo-app", "demo", "demo-app"),
    "vault-configure": Login("kubernetes", "vault-configure", "vault", "vault-configure"),
    "vault-backup": Login("kubernetes", "vault-backup", "vault", "vault-backup"),
    "flux-image-automation": Login("kubernetes", "flux-image-automation", "flux-system", "image-automation-vault-login"),
}
# CI policies, held by a job of their project logging in with its id_tokens JWT (ci-roles.json).
CI_HOLDERS = {"ci-vault-platform": "vault-platform-main"}


def ci_role(**changes: Any) -> dict[str, Any]:
    """The CI role as configure.py writes it, with ``changes``."""
    return {**configure_script().ci_role_body(CI, CI_ROLE), **changes}


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    body: Any = None
    why: str = ""

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def role(namespaces: list[str], policies: list[str], **extra: Any) -> dict[str, Any]:
    return {"bound_service_account_names": ["x"], "bound_service_account_namespaces": namespaces,
            "token_policies": policies, "token_ttl": "1h", **extra}


MAY: dict[str, list[Case]] = {
    "external-secrets": [Case("GET", "kv/data/gitlab/runner"), Case("GET", "kv/metadata/gitlab/runner"),
                         Case("GET", "kv/data/apps/demo"), Case("GET", "kv/metadata/apps/demo")],
    "gitlab-runner": [Case("GET", "kv/data/runner/deploy"), Case("LIST", "kv/metadata/runner")],
    "demo-app": [Case("GET", "database/creds/demo-app")],
    "ci-vault-platform": [Case("GET", "kv/data/ci/platform/vault-platform/deploy"),
                          Case("GET", "kv/metadata/ci/platform/vault-platform/deploy")],
    "vault-configure": [
        Case("GET", "sys/mounts"), Case("GET", "sys/auth"), Case("GET", "sys/audit"),
        Case("POST", "sys/policies/acl/demo-app", {"policy": (POLICY_DIR / "demo-app.hcl").read_text()}),
        Case("POST", "auth/kubernetes/role/gitlab-runner", ROLES["kubernetes"]["gitlab-runner"]),
        Case("POST", "auth/kubernetes-application/role/demo-app", ROLES["kubernetes-*"]["demo-app"]),
        Case("POST", "auth/jwt-gitlab/role/vault-platform-main", ci_role()),
        Case("GET", "kv/data/platform/database-admin"),
        Case("POST", "auth/kubernetes/role/vault-backup", ROLES["kubernetes"]["vault-backup"]),
    ],
    "vault-backup": [Case("GET", "sys/storage/raft/snapshot")],
    "flux-image-automation": [Case("GET", "kv/data/flux/image-automation")],
}

MAY_NOT: dict[str, list[Case]] = {
    "external-secrets": [
        Case("GET", "kv/data/platform/database-admin", why="the platform's own secrets stay in Vault"),
        Case("GET", "kv/data/flux/image-automation", why="the Git write key: only the image automation's own store"),
        Case("GET", "kv/data/ci/deploy"), Case("POST", "kv/data/apps/demo", {"data": {"k": "v"}}),
        Case("LIST", "kv/metadata/apps"), Case("GET", "database/creds/demo-app")],
    "gitlab-runner": [
        Case("GET", "kv/data/gitlab/runner", why="CI jobs never see platform secrets"),
        Case("GET", "kv/data/ci/platform/vault-platform/deploy", why="a project's own CI secrets"),
        Case("LIST", "kv/metadata/ci"),
        Case("GET", "kv/data/apps/demo"), Case("POST", "kv/data/runner/deploy", {"data": {"k": "v"}}),
        Case("GET", "database/creds/demo-app")],
    "demo-app": [
        Case("GET", "kv/data/apps/demo"), Case("GET", "database/creds/other-role"),
        Case("POST", "database/roles/demo-app", {"db_name": "x"}), Case("GET", "database/config/platform-postgres")],
    "ci-vault-platform": [
        Case("GET", "kv/data/runner/deploy", why="the runner's shared CI secrets"),
        Case("GET", "kv/data/ci/platform/other-project/deploy"), Case("GET", "kv/data/platform/database-admin"),
        Case("POST", "kv/data/ci/platform/vault-platform/deploy", {"data": {"k": "v"}}),
        Case("LIST", "kv/metadata/ci/platform/vault-platform")],
    "vault-configure": [
        Case("POST", "sys/policies/acl/vault-configure", {"policy": EVERYTHING}, "rewrite its own policy"),
        Case("POST", "sys/policies/acl/default", {"policy": EVERYTHING}, "the default policy is on its own token"),
        Case("POST", "auth/kubernetes/role/vault-configure", role(["vault"], ["vault-configure", "external-secrets"]),
             "its own role"),
        Case("POST", "auth/kubernetes/role/escalate", role(["vault"], ["external-secrets"]), "bind itself"),
        Case("POST", "auth/kubernetes/role/escalate", role(["external-secrets", "vault"], ["external-secrets"]),
             "bind itself next to an allowed namespace"),
        Case("POST", "auth/kubernetes/role/escalate", role(["*"], ["external-secrets"]), "any namespace"),
        Case("POST", "auth/kubernetes/role/escalate", role(["external-secrets"], ["vault-configure"]),
             "hand its own policy out"),
        Case("POST", "auth/kubernetes/role/escalate", role(["external-secrets"], ["root"]), "hand root out"),
        Case("POST", "auth/kubernetes/role/escalate",
             role(["external-secrets"], ["external-secrets"], bound_service_account_namespace_selector='{"matchLabels":{}}'),
             "bind by namespace selector"),
        Case("POST", "sys/auth/approle", {"type": "approle"}, "an auth method that mints tokens for its roles"),
        Case("POST", "sys/mounts/transit", {"type": "transit"}),
        Case("POST", "auth/kubernetes/config", {"kubernetes_host": "https://127.0.0.1:1"},
             "repoint the tooling cluster's token reviews"),
        # The application clusters' mounts (auth/kubernetes-*): the Job makes and removes them,
        # never the tooling cluster's, never of another type, never reviewing with Vault's token.
        Case("DELETE", "sys/auth/kubernetes", why="remove the tooling cluster's mount (init.py's)"),
        Case("POST", "sys/auth/kubernetes-x", {"type": "approle"}, "another auth type under the clusters' prefix"),
        Case("POST", "sys/auth/kubernetes-x/tune", {"listing_visibility": "unauth"}, "tune beyond type"),
        Case("POST", "auth/kubernetes-application/config",
             {"kubernetes_host": "https://127.0.0.1:1", "disable_local_ca_jwt": False},
             "send Vault's own service-account token to a host it chose"),
        Case("POST", "auth/kubernetes-application/config",
             {"kubernetes_host": "https://127.0.0.1:1", "token_reviewer_jwt": "x", "disable_local_ca_jwt": True},
             "store a long-lived reviewer token"),
        Case("POST", "auth/kubernetes-application/role/escalate", role(["vault"], ["demo-app"]),
             "bind the vault namespace on an application cluster"),
        Case("POST", "auth/kubernetes-application/role/escalate", role(["demo"], ["vault-configure"]),
             "hand its own policy out on an application cluster"),
        Case("POST", "auth/kubernetes-application/role/escalate", role(["demo"], ["demo-app"], token_no_default_policy=True),
             "a role parameter outside the allowed ones"),
        # GitLab CI's JWT auth: roles only with ci-roles.json's policies and audience, the
        # values configure.py writes, and never a key of its own to sign tokens with.
        Case("POST", "auth/jwt-gitlab/role/escalate", ci_role(token_policies=["vault-configure"]), "its own policy to CI"),
        Case("POST", "auth/jwt-gitlab/role/escalate", ci_role(token_policies=["external-secrets"]),
             "a workload's policy to CI"),
        Case("POST", "auth/jwt-gitlab/role/escalate", ci_role(bound_audiences=["sts.amazonaws.com"]),
             "accept tokens meant for another service"),
        Case("POST", "auth/jwt-gitlab/role/escalate", ci_role(bound_claims_type="glob"), "wildcard claims"),
        Case("POST", "auth/jwt-gitlab/role/escalate", ci_role(token_ttl="768h"), "long-lived CI tokens"),
        Case("POST", "auth/jwt-gitlab/role/escalate", ci_role(token_no_default_policy=True), "another role parameter"),
        Case("POST", "auth/jwt-gitlab/config", {"jwt_validation_pubkeys": ["x"]}, "trust a key of its own"),
        Case("POST", "auth/jwt-gitlab/config", {"oidc_discovery_url": "https://127.0.0.1:1", "oidc_discovery_ca_pem": "x"},
             "trust a CA of its own"),
        Case("POST", "sys/auth/jwt-other", {"type": "jwt"}, "another JWT mount"),
        Case("DELETE", "sys/auth/jwt-gitlab"),
        Case("DELETE", "sys/mounts/kv"), Case("DELETE", "sys/audit/file", why="blind the audit log"),
        Case("GET", "kv/data/gitlab/runner", why="it reads no secrets but the one admin credential"),
        Case("GET", "database/creds/demo-app"),
        # The snapshot job's role, by its exact path: only vault/vault-backup, only its policy.
        Case("POST", "auth/kubernetes/role/vault-backup", {**ROLES["kubernetes"]["vault-backup"],
                                                           "bound_service_account_names": ["vault-configure"]},
             "bind the backup role to its own account"),
        Case("POST", "auth/kubernetes/role/vault-backup", {**ROLES["kubernetes"]["vault-backup"],
                                                           "token_policies": ["vault-configure"]},
             "hand its own policy out through the backup role"),
        Case("POST", "auth/kubernetes/role/escalate", role(["vault"], ["vault-backup"]),
             "the namespace vault through the glob"),
    ],
    "vault-backup": [
        Case("POST", "sys/storage/raft/snapshot", {}, "restore over the cluster"),
        Case("POST", "sys/storage/raft/snapshot-force", {}, "restore another cluster's snapshot"),
        Case("GET", "sys/storage/raft/configuration"), Case("GET", "kv/data/apps/demo"),
        Case("POST", "sys/policies/acl/vault-backup", {"policy": EVERYTHING}, "widen its own policy"),
        Case("GET", "database/creds/demo-app"), Case("LIST", "auth/kubernetes/role"),
    ],
    # The Git key that can push to the platform's repository: read by its own store, nothing more.
    "flux-image-automation": [
        Case("GET", "kv/metadata/flux/image-automation"), Case("LIST", "kv/metadata/flux"),
        Case("GET", "kv/data/flux/other"), Case("GET", "kv/data/gitlab/runner"),
        Case("POST", "kv/data/flux/image-automation", {"data": {"identity": "x"}}, "replace the key"),
        Case("GET", "kv/data/platform/database-admin"), Case("GET", "database/creds/demo-app")],
}

TABLE = [(policy, case, True) for policy, cases in MAY.items() for case in cases] + \
        [(policy, case, False) for policy, cases in MAY_NOT.items() for case in cases]


@pytest.fixture(scope="session")
def holders(bootstrapped: Bootstrapped) -> Iterator[dict[str, str]]:
    """One token per policy, from its holder's own login, with some secrets in place."""
    with bootstrapped.operator_root() as root:
        client = bootstrapped.lab.client(root)
        for path in ("gitlab/runner", "apps/demo", "runner/deploy", "platform/database-admin", "flux/image-automation",
                     "ci/platform/vault-platform/deploy", "ci/platform/other-project/deploy"):
            assert client.request("POST", f"kv/data/{path}", {"data": {"value": "lab"}}).status == 200
    tokens = {}
    for policy, login in HOLDERS.items():
        answer = bootstrapped.login(login.mount, login.role, login.namespace, login.account)
        assert answer.status == 200, f"{policy}: login {login} answered {answer.status} {answer.body}"
        assert policy in answer.body["auth"]["policies"]
        tokens[policy] = answer.body["auth"]["client_token"]
    gitlab = bootstrapped.lab.gitlab
    assert gitlab is not None
    for policy, name in CI_HOLDERS.items():
        role = CI["roles"][name]
        jwt = gitlab.id_token(role["project_path"], role["ref"], aud=CI["audience"], ref_type=role["ref_type"])
        answer = bootstrapped.lab.client().request("POST", "auth/jwt-gitlab/login", {"role": name, "jwt": jwt})
        assert answer.status == 200, f"{policy}: CI login as {name} answered {answer.status} {answer.body}"
        assert policy in answer.body["auth"]["policies"]
        tokens[policy] = answer.body["auth"]["client_token"]
    yield tokens


def test_every_policy_file_has_a_table_both_ways():
    files = {p.stem for p in POLICY_DIR.glob("*.hcl")}
    assert files == set(MAY) == set(MAY_NOT) == set(HOLDERS) | set(CI_HOLDERS)


@pytest.mark.parametrize(("policy", "case", "allowed"), TABLE,
                         ids=[f"{p}-{'may' if a else 'may-not'}-{c}" for p, c, a in TABLE])
def test_policy_table(bootstrapped: Bootstrapped, holders: dict[str, str], policy: str, case: Case, allowed: bool):
    answer = bootstrapped.lab.client(holders[policy]).request(case.method, case.path, case.body)
    if allowed:
        assert answer.status != 403, f"{policy} may {case}, got 403 {answer.body}"
    else:
        assert answer.status == 403, f"{policy} may not {case} ({case.why}), got {answer.status} {answer.body}"


@pytest.mark.parametrize("policy", sorted(HOLDERS))
def test_a_role_admits_only_its_own_service_account(bootstrapped: Bootstrapped, policy: str):
    login = HOLDERS[policy]
    stranger = bootstrapped.login(login.mount, login.role, "default", login.account)
    assert stranger.status == 403
