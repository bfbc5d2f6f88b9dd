"""GitLab CI -> Vault with the job's own id_tokens JWT (issue #15, item 5), on the real server.

GIVEN the session's lab, configured by the real configure Job with config/ci-roles.json and a
jwt mount trusting GitLab's issuer (here the GitLab OIDC stand-in: discovery document and keys
of a key made here, served over HTTPS), WHEN a job's ID token with GitLab's claim shape logs
in, THEN only the role's project on a protected branch, with the right audience and a token
that has not expired and is signed by the issuer's key, gets a Vault token; that token reads
its project's CI secret and nothing else.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import pytest

from tests.vault.conftest import Bootstrapped
from vault_platform.gitops.vault_checks import VAULT_CONFIG_DIR
from vault_platform.vaultlab import Response
from vault_platform.vaultlab.gitlab_standin import GitLabStandIn
from vault_platform.vaultlab.standin import RsaSigner, b64url_decode

pytestmark = pytest.mark.integration

CI = json.loads((VAULT_CONFIG_DIR / "config" / "ci-roles.json").read_text())
ROLE_NAME = "vault-platform-main"
ROLE = CI["roles"][ROLE_NAME]
SECRET = "kv/data/ci/platform/vault-platform/deploy"


@pytest.fixture(scope="module")
def gitlab(bootstrapped: Bootstrapped) -> Iterator[GitLabStandIn]:
    with bootstrapped.operator_root() as root:
        answer = bootstrapped.lab.client(root).request("POST", SECRET, {"data": {"value": "for-main-only"}})
        assert answer.status == 200, answer.body
    assert bootstrapped.lab.gitlab is not None
    yield bootstrapped.lab.gitlab


def token(gitlab: GitLabStandIn, **changes) -> str:
    """A job token of the role's own project and branch, with ``changes``."""
    claims = {"project_path": ROLE["project_path"], "ref": ROLE["ref"], "aud": CI["audience"],
              "ref_type": ROLE["ref_type"], "ref_protected": ROLE["ref_protected"], **changes}
    return gitlab.id_token(claims.pop("project_path"), claims.pop("ref"), **claims)


def login(bootstrapped: Bootstrapped, jwt: str) -> Response:
    return bootstrapped.lab.client().request("POST", "auth/jwt-gitlab/login", {"role": ROLE_NAME, "jwt": jwt})


def test_the_configure_job_made_the_mount_and_its_role(bootstrapped: Bootstrapped):
    assert "enabled JWT auth at jwt-gitlab/ for GitLab CI" in bootstrapped.runs["configure"].stdout
    with bootstrapped.operator_root() as root:
        client = bootstrapped.lab.client(root)
        config = client.request("GET", "auth/jwt-gitlab/config").body["data"]
        role = client.request("GET", f"auth/jwt-gitlab/role/{ROLE_NAME}").body["data"]
    assert bootstrapped.lab.gitlab is not None
    assert config["oidc_discovery_url"] == config["bound_issuer"] == bootstrapped.lab.gitlab.issuer
    assert role["bound_claims"] == {"project_path": ROLE["project_path"], "ref_type": "branch",
                                    "ref_protected": "true", "ref": "main"}
    assert (role["bound_audiences"], role["user_claim"], role["token_ttl"], role["token_max_ttl"]) == (
        [CI["audience"]], "project_path", 300, 900)


def test_a_job_of_the_project_on_its_protected_branch_gets_its_secret(bootstrapped: Bootstrapped, gitlab: GitLabStandIn):
    answer = login(bootstrapped, token(gitlab))
    assert answer.status == 200, answer.body
    auth = answer.body["auth"]
    assert auth["policies"] == ["ci-vault-platform", "default"] and auth["lease_duration"] == 300
    with bootstrapped.operator_root() as root:
        entity = bootstrapped.lab.client(root).request("GET", f"identity/entity/id/{auth['entity_id']}").body["data"]
    assert [alias["name"] for alias in entity["aliases"]] == [ROLE["project_path"]]  # user_claim: the project
    client = bootstrapped.lab.client(auth["client_token"])
    secret = client.request("GET", SECRET)
    assert secret.status == 200 and secret.body["data"]["data"] == {"value": "for-main-only"}
    assert client.request("GET", "kv/data/ci/deploy").status == 403


# OpenBao answers a token it refuses with 400 and the reason (Vault's JWT plugin does the same):
# no Vault token either way. The "403" is what a job sees as permission denied.
@pytest.mark.parametrize(("changes", "reason"), [
    ({"project_path": "platform/other-project"}, 'claim "project_path" does not match'),
    ({"project_path": "platform/vault-platform-fork"}, 'claim "project_path" does not match'),
    ({"ref_protected": False}, 'claim "ref_protected" does not match'),
    ({"ref": "feature"}, 'claim "ref" does not match'),
    ({"ref_type": "tag"}, 'claim "ref_type" does not match'),
    ({"aud": "sts.amazonaws.com"}, "invalid audience (aud) claim"),
    ({"expires_in": -60}, "token is expired"),
], ids=["other-project", "prefix-project", "unprotected", "other-branch", "tag", "wrong-audience", "expired"])
def test_any_other_job_is_refused_at_login(bootstrapped: Bootstrapped, gitlab: GitLabStandIn, changes: dict, reason: str):
    answer = login(bootstrapped, token(gitlab, **changes))
    assert answer.status == 400 and "auth" not in answer.body, answer
    assert reason in answer.body["errors"][0], answer.body


def test_a_token_not_signed_by_the_issuers_key_is_refused(bootstrapped: Bootstrapped, gitlab: GitLabStandIn):
    # The right claims, signed by a key the issuer does not publish.
    claims = json.loads(b64url_decode(token(gitlab).split(".")[1]))
    answer = login(bootstrapped, RsaSigner().sign(claims))
    assert answer.status == 400 and "auth" not in answer.body, answer
    assert "failed to verify id token signature" in answer.body["errors"][0], answer.body


def test_a_role_bound_by_project_id_follows_a_rename_and_refuses_a_reused_path(
        bootstrapped: Bootstrapped, gitlab: GitLabStandIn, tmp_path):
    # GIVEN ci-roles.json's role with the project's numeric id, applied the privileged way (the
    # Job's policy pins each CI role) and written by the configure Job; the lab is put back after.
    config = tmp_path / "config"
    shutil.copytree(VAULT_CONFIG_DIR / "config", config)
    ci = json.loads((config / "ci-roles.json").read_text())
    ci["roles"][ROLE_NAME]["project_id"] = "4242"
    (config / "ci-roles.json").write_text(json.dumps(ci))
    try:
        bootstrapped.privileged_apply(bootstrapped.jobs, {"/config": config})
        run = bootstrapped.jobs.run("configure", mounts_instead={"/config": config})
        assert "vault-configure is incomplete" in run.stderr, run.stdout + run.stderr  # the lab has no database
        with bootstrapped.operator_root() as root:
            role = bootstrapped.lab.client(root).request("GET", f"auth/jwt-gitlab/role/{ROLE_NAME}").body["data"]
        assert role["bound_claims"] == {"project_id": "4242", "ref_path": "refs/heads/main", "ref_protected": "true"}
        renamed = login(bootstrapped, token(gitlab, project_path="platform/renamed", project_id="4242"))
        assert renamed.status == 200, renamed.body
        reused = login(bootstrapped, token(gitlab, project_id="77"))
        assert reused.status == 400 and 'claim "project_id" does not match' in reused.body["errors"][0], reused.body
        tag = login(bootstrapped, token(gitlab, project_id="4242", ref_type="tag"))
        assert tag.status == 400 and 'claim "ref_path" does not match' in tag.body["errors"][0], tag.body
    finally:
        bootstrapped.privileged_apply(bootstrapped.jobs)
        bootstrapped.jobs.run("configure")
    with bootstrapped.operator_root() as root:
        role = bootstrapped.lab.client(root).request("GET", f"auth/jwt-gitlab/role/{ROLE_NAME}").body["data"]
    assert "project_path" in role["bound_claims"], "the lab is as the session left it"
