"""Every grant of vault-configure's policy, attacked the ways an attacker would vary it, judged by outcome.

GIVEN the session's bootstrapped lab, a token from the configure Job's own login, and the grants
of its policy as vault-init rendered them (job_policy.grants: the very rules in Vault), WHEN for
each grant the attacker tries the variants derived from it — the path upper-cased, title-cased,
with a trailing, doubled or dotted slash, a sibling name, the legacy endpoint; at the exact path
each parameter omitted, changed, sent twice under another case, and a parameter added — THEN
after every attempt Vault's security state (every policy, auth mount and its config and roles,
every database connection and role, the audit devices) is what it was, and no login with a
credential the attacker holds (a token its own API server vouches for, any GitLab project's ID
token) yields a token. Nothing here lists what must be denied: the attempts come from the grants.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from tests.vault.conftest import Bootstrapped, flux_values
from vault_platform.gitops.vault_checks import configure_grants
from vault_platform.vaultlab import KubeStandIn, VaultClient
from vault_platform.vaultlab.tls import write_lab_tls

pytestmark = pytest.mark.integration

EVERYTHING = 'path "*" { capabilities = ["create", "read", "update", "delete", "list", "sudo"] }'
ADDED_PARAMETER = "attacker_chosen"
BOOKKEEPING = {"modified", "version"}


def changed(key: str, value: Any) -> Any:
    """A value other than ``value`` of its type, one an attacker would want."""
    if key == "policy":
        return EVERYTHING
    if isinstance(value, bool):
        return not value
    if isinstance(value, str):
        return "https://127.0.0.1:1" if value.startswith("https://") else value + "-attacker"
    if isinstance(value, list):
        return [*value, "vault-configure"]
    if isinstance(value, dict):
        return {**value, "attacker": "x"}
    raise TypeError(value)


def path_variants(path: str, names: set[str]) -> list[str]:
    if "*" in path:  # a glob: every name an attacker would put there
        return [path.replace("*", name, 1) for name in sorted(names | {"attacker", "vault-configure", "default", "root"})]
    head, _, last = path.rpartition("/")
    variants = [path.upper(), f"{head}/{last.capitalize()}", f"{head}/{last.upper()}", path + "/",
                f"{head}//{last}", f"{head}/./{last}", f"{head}/{last}-x"]
    if path.startswith("sys/policies/acl/"):
        variants.append(f"sys/policy/{last}")
    if path.startswith("sys/auth/"):
        variants += [f"{path}/tune", f"sys/mounts/auth/{last}/tune"]
    if "/role/" in path:
        mount = path.split("/")[1]
        variants.append(path.replace(f"auth/{mount}/", f"auth/{mount.upper()}/", 1))
    return variants


def body_variants(body: dict[str, Any], unpinned: tuple[str, ...]) -> list[tuple[str, dict[str, Any]]]:
    full = {**body, **{key: "attacker-secret" for key in unpinned}}
    variants = [("as configure.py writes it", full), ("every value changed", {k: changed(k, v) for k, v in full.items()}),
                (f"added {ADDED_PARAMETER}", {**full, ADDED_PARAMETER: True})]
    for key, value in body.items():
        variants.append((f"{key} omitted", {k: v for k, v in full.items() if k != key}))
        variants.append((f"{key} changed", {**full, key: changed(key, value)}))
        variants.append((f"{key} also as {key.upper()}", {**full, key.upper(): changed(key, value)}))
    return variants


def security_state(root: VaultClient) -> dict[str, Any]:
    """Everything that decides what a token can do or who can get one."""
    def get(path: str) -> Any:
        answer = root.request("GET", path)
        data = answer.body.get("data")
        if isinstance(data, dict):  # OpenBao's bookkeeping of a policy write, not its meaning
            data = {k: v for k, v in data.items() if k not in BOOKKEEPING}
        return (answer.status, data)

    def listed(path: str) -> list[str]:
        answer = root.request("LIST", path)
        return sorted(answer.body.get("data", {}).get("keys", [])) if answer.status == 200 else []

    state: dict[str, Any] = {"sys/auth": sorted((k, v["type"]) for k, v in root.request("GET", "sys/auth").body["data"].items()),
                             "sys/mounts": sorted((k, v["type"]) for k, v in root.request("GET", "sys/mounts").body["data"].items()),
                             "sys/audit": get("sys/audit")}
    for name in listed("sys/policies/acl"):
        state[f"sys/policies/acl/{name}"] = get(f"sys/policies/acl/{name}")
    for mount, _type in state["sys/auth"]:
        state[f"auth/{mount}config"] = get(f"auth/{mount}config")
        for role in listed(f"auth/{mount}role"):
            state[f"auth/{mount}role/{role}"] = get(f"auth/{mount}role/{role}")
    for kind in ("config", "roles"):
        for name in listed(f"database/{kind}"):
            state[f"database/{kind}/{name}"] = get(f"database/{kind}/{name}")
    return state


@pytest.fixture(scope="module")
def rogue_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeStandIn]:
    """The attacker's own Kubernetes API server: it vouches for any token it signs."""
    with KubeStandIn(write_lab_tls(tmp_path_factory.mktemp("rogue-api") / "tls"), issuer="https://rogue") as rogue:
        yield rogue


def attacker_logins(bootstrapped: Bootstrapped, root: VaultClient, rogue: KubeStandIn) -> list[str]:
    """Every login the attacker can attempt with what it holds, on every mount and role; the successful ones."""
    gitlab = bootstrapped.lab.gitlab
    assert gitlab is not None
    succeeded = []
    for mount, kind in security_state(root)["sys/auth"]:
        for role in sorted(root.request("LIST", f"auth/{mount}role").body.get("data", {}).get("keys", [])):
            data = root.request("GET", f"auth/{mount}role/{role}").body["data"]
            if kind == "kubernetes":
                rogue.auth_delegators = frozenset(f"{ns}/{sa}" for ns in data["bound_service_account_namespaces"]
                                                  for sa in data["bound_service_account_names"])
                jwts = [rogue.service_account_token(ns, sa) for ns in data["bound_service_account_namespaces"]
                        for sa in data["bound_service_account_names"]]
            elif kind == "jwt":
                jwts = [gitlab.id_token("attacker/project", "main", aud=aud) for aud in data["bound_audiences"]]
            else:
                continue
            for jwt in jwts:
                answer = bootstrapped.lab.client().request("POST", f"auth/{mount}login", {"role": role, "jwt": jwt})
                if answer.status == 200:
                    succeeded.append(f"auth/{mount}login role {role}: {answer.body['auth']['policies']}")
    return succeeded


def test_no_variant_of_any_grant_changes_what_any_token_can_do(bootstrapped: Bootstrapped, rogue_api: KubeStandIn):
    lab = bootstrapped.lab
    assert lab.root is not None
    rendered, grants = configure_grants({**flux_values(lab), "VAULT_AUDIT_FILE": str(lab.root / "audit.log")})
    login = bootstrapped.login("kubernetes", "vault-configure", "vault", "vault-configure")
    attacker = lab.client(login.body["auth"]["client_token"])
    assert attacker.request("GET", "sys/policies/acl/vault-configure").body["data"]["policy"] == rendered, \
        "the grants attacked here are the ones in Vault"
    findings: list[str] = []
    attempts = 0
    with bootstrapped.operator_root() as token:
        root = lab.client(token)
        # What the Job itself writes is the baseline (on this lab most of it is in place already).
        for grant in grants:
            if grant.body is not None:
                attacker.request("POST", grant.path, {**grant.body, **{key: "x" for key in grant.unpinned}})
        before = security_state(root)
        names = {grant.path.rsplit("/", 1)[1] for grant in grants}
        for grant in grants:
            body = grant.body or {}
            tries = [("POST", grant.path, label, variant) for label, variant in body_variants(body, grant.unpinned)]
            # What the policy lets it write somewhere else, written here.
            tries += [("POST", grant.path, f"the body allowed at {other.path}", copy.deepcopy(other.body))
                      for other in grants if other.body is not None and other is not grant]
            for path in [grant.path, *path_variants(grant.path, names)]:
                tries += [("POST", path, "as configure.py writes it", copy.deepcopy(body)), ("DELETE", path, "", None)]
            for method, path, label, variant in tries:
                attempts += 1
                answer = attacker.request(method, path, variant)
                if answer.status == 403:
                    continue
                after = security_state(root)
                if method == "DELETE" and path == grant.path and "delete" in grant.capabilities:
                    # Its own throw-away object (the database bootstrap's): granted; put it back.
                    attacker.request("POST", grant.path, {**body, **{key: "x" for key in grant.unpinned}})
                    after = security_state(root)
                if after != before:
                    changed_keys = sorted(k for k in after.keys() | before.keys() if after.get(k) != before.get(k))
                    findings.append(f"{method} {path} ({label}) answered {answer.status} and changed {changed_keys}: "
                                    f"{[(before.get(k), after.get(k)) for k in changed_keys]}"[:600])
                    before = after
        findings += [f"login after the attempts: {line}" for line in attacker_logins(bootstrapped, root, rogue_api)]
        for grant in grants:  # the lab as it was: the baseline made the database bootstrap's throw-away objects
            if "delete" in grant.capabilities:
                attacker.request("DELETE", grant.path)
    assert attempts > 300
    assert not findings, "\n".join(findings)
