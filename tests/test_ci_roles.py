"""The GitLab CI roles (constructs/ci_oidc.py): who may assume them (exact sub with
StringEquals, patterns only for the plan role's branches), what the plan role needs of an S3
backend with use_lockfile (and nothing more), and the denies that bind the deploy role.

GIVEN an environment with a [ci] table (multi: local state; staging: with [state] as alias or key ARN, or other
plan branches), WHEN the CI construct is synthesized, THEN its policies say exactly that."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tests.helpers import assert_terraform_validates, environment_variant, set_at
from tests.synth import StackJson, synth_construct
from vault_platform.config import load_environment
from vault_platform.config.model import EnvironmentConfig
from vault_platform.constructs.ci_oidc import CiOidc, CiOidcProps, gitlab_trust_policy
from vault_platform.stacks.base import PARTITION

PROJECT = "project_path:platform/vault-platform:ref_type:branch:ref:"
KEY_ARN = "arn:aws:kms:eu-central-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
GUARDED_ACTIONS = {"iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:AttachRolePolicy",
                   "iam:DeleteRole", "iam:DeleteOpenIDConnectProvider", "organizations:LeaveOrganization",
                   "cloudtrail:StopLogging", "cloudtrail:DeleteTrail"}


def synth_ci(env: EnvironmentConfig, outdir: Path) -> StackJson:
    """Only the CI construct, in a stack of its own: fast, and valid Terraform on its own."""
    return synth_construct(outdir, lambda stack: CiOidc(stack, "ci-oidc", CiOidcProps(
        name=env.name, ci=env.ci, state=env.state, partition=PARTITION)), stack_id="ci", region=env.region)


def with_ci(env: EnvironmentConfig, **fields: object) -> EnvironmentConfig:
    return dataclasses.replace(env, ci=dataclasses.replace(env.ci, **fields))


def role_named(stack: StackJson, suffix: str) -> tuple[str, dict]:
    (found,) = [(name, role) for name, role in stack.resources("aws_iam_role").items() if role["name"].endswith(suffix)]
    return found


def trust_conditions(role: dict) -> list[dict]:
    return [statement["Condition"] for statement in json.loads(role["assume_role_policy"])["Statement"]]


def inline_policies(stack: StackJson) -> dict[str, dict]:
    """Inline policies of the CI roles by their name, each with the role it is on."""
    return {p["name"]: {"role": p["role"], **json.loads(p["policy"])} for p in stack.resources("aws_iam_role_policy").values()
            if "ci-oidc" in p["role"]}


def by_sid(document: dict) -> dict[str, dict]:
    return {statement["Sid"]: statement for statement in document["Statement"]}


@pytest.fixture(scope="module")
def tooling(tmp_path_factory: pytest.TempPathFactory) -> StackJson:
    """An environment with [ci] and local state (multi); the default one has no CI roles."""
    return synth_ci(load_environment("multi"), tmp_path_factory.mktemp("ci-local"))


@pytest.fixture(scope="module")
def staging(tmp_path_factory: pytest.TempPathFactory) -> StackJson:
    return synth_ci(load_environment("staging"), tmp_path_factory.mktemp("ci-staging"))


# --- who may assume the roles -------------------------------------------------------------

def test_deploy_trust_is_the_exact_sub_with_string_equals(tooling: StackJson) -> None:
    _, deploy = role_named(tooling, "-ci-deploy")
    assert trust_conditions(deploy) == [{"StringEquals": {"gitlab.example.com:aud": "sts.amazonaws.com", "gitlab.example.com:sub": PROJECT + "main"}}]


def test_plan_trust_uses_string_like_only_for_its_wildcard_by_default(tooling: StackJson) -> None:
    _, plan = role_named(tooling, "-ci-plan")
    assert trust_conditions(plan) == [{"StringEquals": {"gitlab.example.com:aud": "sts.amazonaws.com"},
                                       "StringLike": {"gitlab.example.com:sub": PROJECT + "*"}}]
    assert "any branch" in plan["description"]


def test_exact_and_wildcard_branches_get_one_statement_each() -> None:
    trust = json.loads(gitlab_trust_policy("arn:provider", "gitlab.example.com", "sts.amazonaws.com",
                                           ["s:main", "s:release/*", "s:stable", "s:hotfix-*"]))
    assert [s["Condition"] for s in trust["Statement"]] == [
        {"StringEquals": {"gitlab.example.com:aud": "sts.amazonaws.com", "gitlab.example.com:sub": ["s:main", "s:stable"]}},
        {"StringEquals": {"gitlab.example.com:aud": "sts.amazonaws.com"},
         "StringLike": {"gitlab.example.com:sub": ["s:release/*", "s:hotfix-*"]}},
    ]


def test_plan_limited_to_protected_branches(tmp_path: Path) -> None:
    stack = synth_ci(with_ci(load_environment("staging"), plan_branches=("main",)), tmp_path)
    _, plan = role_named(stack, "-ci-plan")
    assert trust_conditions(plan) == [{"StringEquals": {"gitlab.example.com:aud": "sts.amazonaws.com", "gitlab.example.com:sub": PROJECT + "main"}}]
    assert plan["description"].endswith("branches main: read-only")


def test_plan_branches_from_the_environment_file() -> None:
    local = load_environment("multi")
    assert local.state is None and local.ci.effective_plan_branches(remote_state=False) == ("*",)
    env = environment_variant(set_at("ci.plan_branches", ["main", "release/*"]), base="multi")
    assert env.ci.plan_branches == ("main", "release/*")


# --- what the plan role may do with the remote state ---------------------------------------

def test_without_remote_state_the_plan_role_has_only_read_only_access(tooling: StackJson) -> None:
    assert set(inline_policies(tooling)) == {"guardrails"}


def test_plan_role_reads_state_and_holds_only_lock_objects(staging: StackJson) -> None:
    plan_address, _ = role_named(staging, "-ci-plan")
    policy = inline_policies(staging)["terraform-state"]
    assert policy["role"] == f"${{aws_iam_role.{plan_address}.id}}"
    bucket = "arn:aws:s3:::example-vault-platform-staging-tfstate"
    assert {sid: (s["Effect"], s["Action"], s["Resource"]) for sid, s in by_sid(policy).items()} == {
        "ListWorkspaces": ("Allow", ["s3:ListBucket"], [bucket]),
        "ReadStateAndLocks": ("Allow", ["s3:GetObject"], [f"{bucket}/staging/*.tfstate", f"{bucket}/staging/*.tflock"]),
        "HoldStateLocks": ("Allow", ["s3:DeleteObject", "s3:PutObject"], [f"{bucket}/staging/*.tflock"]),
        "StateKeyThroughS3": ("Allow", ["kms:Decrypt", "kms:GenerateDataKey"], ["arn:aws:kms:eu-central-1:111122223333:key/*"]),
    }
    # Terraform lists workspaces under "env:/" on init, never under the state key's directory.
    assert by_sid(policy)["ListWorkspaces"]["Condition"] == {"StringEquals": {"s3:prefix": "env:/"}}


def test_state_key_by_alias_is_matched_by_its_alias_through_s3_only(staging: StackJson) -> None:
    kms = by_sid(inline_policies(staging)["terraform-state"])["StateKeyThroughS3"]
    assert kms["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.eu-central-1.amazonaws.com"},
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/vault-platform-staging-tfstate"},
    }
    assert not any(":alias/" in resource for resource in kms["Resource"]), "an alias ARN never grants use of its key"


def test_state_key_by_key_arn_is_named_directly(tmp_path: Path) -> None:
    env = load_environment("staging")
    stack = synth_ci(dataclasses.replace(env, state=dataclasses.replace(env.state, kms_key_arn=KEY_ARN)), tmp_path)
    kms = by_sid(inline_policies(stack)["terraform-state"])["StateKeyThroughS3"]
    assert kms["Resource"] == [KEY_ARN]
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-central-1.amazonaws.com"}}
    guardrails = by_sid(inline_policies(stack)["guardrails"])
    assert guardrails["KeepStateKey"]["Resource"] == [KEY_ARN] and "Condition" not in guardrails["KeepStateKey"]
    assert "KeepStateKeyAlias" not in guardrails


# --- what the deploy role may never do ----------------------------------------------------

def test_guardrails_deny_on_the_deploy_role_only(staging: StackJson) -> None:
    deploy_address, _ = role_named(staging, "-ci-deploy")
    plan_address, _ = role_named(staging, "-ci-plan")
    guardrails = inline_policies(staging)["guardrails"]
    assert guardrails["role"] == f"${{aws_iam_role.{deploy_address}.id}}"
    statements = by_sid(guardrails)
    assert {s["Effect"] for s in statements.values()} == {"Deny"}
    assert statements["KeepCiRoles"]["Resource"] == [f"${{aws_iam_role.{plan_address}.arn}}",
                                                     f"${{aws_iam_role.{deploy_address}.arn}}"]
    provider = next(iter(staging.resources("aws_iam_openid_connect_provider")))
    assert statements["KeepCiIdentityProvider"]["Resource"] == [f"${{aws_iam_openid_connect_provider.{provider}.arn}}"]
    denied = {action for s in statements.values() for action in s["Action"]}
    assert GUARDED_ACTIONS <= denied


def test_guardrails_keep_the_state_bucket_its_versions_and_its_key(staging: StackJson) -> None:
    statements = by_sid(inline_policies(staging)["guardrails"])
    bucket = "arn:aws:s3:::example-vault-platform-staging-tfstate"
    assert statements["KeepStateBucket"]["Resource"] == [bucket, f"{bucket}/*"]
    assert {"s3:DeleteBucket", "s3:DeleteObjectVersion", "s3:PutBucketVersioning"} <= set(statements["KeepStateBucket"]["Action"])
    key = statements["KeepStateKey"]
    assert {"kms:ScheduleKeyDeletion", "kms:DisableKey"} <= set(key["Action"])
    assert key["Condition"] == {"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/vault-platform-staging-tfstate"}}
    assert statements["KeepStateKeyAlias"]["Resource"] == [load_environment("staging").state.kms_key_arn]


def test_guardrails_name_every_action_so_a_deploy_keeps_the_rest(staging: StackJson, tooling: StackJson) -> None:
    for stack in (staging, tooling):
        for statement in inline_policies(stack)["guardrails"]["Statement"]:
            assert not any("*" in action for action in statement["Action"]), statement["Sid"]
            assert not any(action.startswith("iam:Tag") or action.startswith("iam:Untag") for action in statement["Action"])
    # Without [state] there is no bucket or key to guard.
    assert not {"KeepStateBucket", "KeepStateKey"} & set(by_sid(inline_policies(tooling)["guardrails"]))


def test_administrator_access_stays_and_its_suppression_names_the_guardrails(tooling: StackJson) -> None:
    from vault_platform.constructs.ci_oidc import CHECKOV_SUPPRESSIONS

    attached = [p["policy_arn"] for p in tooling.resources("aws_iam_role_policy_attachment").values() if "ci-oidc" in p["role"]]
    assert "arn:aws:iam::aws:policy/AdministratorAccess" in attached
    reason = CHECKOV_SUPPRESSIONS[("CKV_AWS_274", "aws_iam_role_policy_attachment", "deploy-administrator")]
    assert "StringEquals" in reason and "deploy-guardrails" in reason


@pytest.mark.terraform
def test_terraform_validate_with_remote_state(staging: StackJson, tmp_path: Path) -> None:
    assert_terraform_validates(staging, tmp_path / "ci")


def test_with_remote_state_only_the_deploy_branch_plans_by_default(tmp_path: Path) -> None:
    """The plan role can decrypt the state (CA private keys): no branch anyone can push may assume it."""
    env = load_environment("staging")
    assert env.state is not None and env.ci.plan_branches is None
    stack = synth_ci(env, tmp_path)
    _, plan = role_named(stack, "-ci-plan")
    subjects = [c.get("StringEquals", {}).get("gitlab.example.com:sub") for c in trust_conditions(plan)]
    assert subjects == [PROJECT + env.ci.deploy_branch] and all("StringLike" not in c for c in trust_conditions(plan))


def test_any_branch_with_remote_state_is_refused_in_one_line() -> None:
    from vault_platform.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^[^\n]*ci\.plan_branches = \['\*'\]: .*CA private keys; fix: list protected branches"):
        environment_variant(set_at("ci.plan_branches", ["*"]), base="staging")
    assert environment_variant(set_at("ci.plan_branches", ["*"]), base="multi").ci.plan_branches == ("*",)  # local state
