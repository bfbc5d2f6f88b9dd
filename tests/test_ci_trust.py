"""Which external identities an environment trusts (vault_platform/federated_trust.py).

GIVEN the shipped environments, THEN only those with a [ci] table trust a GitLab issuer, and
the embedded default trusts nobody outside its own clusters. GIVEN a [ci] table, THEN it must
name the instance, the project and its ids, and whether this environment creates the
account's OIDC provider or looks it up. GIVEN synthesized IAM altered the ways an attacker (or
a careless construct) would widen it, THEN the trust check names each alteration, and the
synth refuses it in one line."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from tests.helpers import drop, environment_variant, set_at
from tests.synth import StackJson
from tests.test_ci_roles import synth_ci
from vault_platform.app import check_federated_trust
from vault_platform.config import load_environment
from vault_platform.errors import ConfigError
from vault_platform.federated_trust import describe, federated_trusts, stack_trust_problems

STRANGER = "arn:aws:iam::999999999999:oidc-provider/gitlab.com"


def eks_issuers_only(stack: StackJson) -> bool:
    return all(trust.issuer is not None and trust.issuer.startswith("${aws_eks_cluster.")
               for trust in federated_trusts(stack.stack_id, stack.data))


# --- the shipped environments -------------------------------------------------------------

def test_the_default_environment_trusts_no_external_issuer(default_stacks: dict[str, StackJson]) -> None:
    """Before: every environment got <env>-ci-deploy (AdministratorAccess) trusted by any
    gitlab.com project at the path platform/vault-platform."""
    for stack in default_stacks.values():
        assert not stack.resources("aws_iam_openid_connect_provider") or all(
            p["url"].startswith("${aws_eks_cluster.") for p in stack.resources("aws_iam_openid_connect_provider").values())
        assert eks_issuers_only(stack), stack.stack_id
        assert not [name for name in stack.outputs() if name.startswith("ci_")], stack.stack_id
    roles = [r["name"] for s in default_stacks.values() for r in s.resources("aws_iam_role").values()]
    assert not [name for name in roles if "-ci-" in name]


def test_the_default_environment_gives_flux_no_gitlab_instance(default_stacks: dict[str, StackJson]) -> None:
    (configmap,) = [c for c in default_stacks["tooling-platform"].resources("kubernetes_config_map_v1").values()
                    if c["metadata"]["name"] == "platform-vars"]
    assert "GITLAB_URL" not in configmap["data"]


def test_only_environments_that_name_ci_have_it() -> None:
    with_ci = {name for name in ("default", "staging", "production", "multi") if load_environment(name).ci is not None}
    assert with_ci == {"staging", "multi"}
    for name in with_ci:
        ci = load_environment(name).ci
        # A reserved name (RFC 2606): no one can run an issuer there, so the example trusts nobody real.
        assert ci.gitlab_url == "https://gitlab.example.com" and ci.project_id > 0 and ci.namespace_id > 0


# --- what [ci] must name ------------------------------------------------------------------

STAGING_CI = ("gitlab_url", "project_path", "project_id", "namespace_id", "oidc_provider")


@pytest.mark.parametrize("field", STAGING_CI)
def test_ci_has_no_default_instance_project_or_provider_choice(field: str) -> None:
    with pytest.raises(ConfigError, match=rf"^environments/variant\.toml: ci\.{field} = '<missing>': required field is missing") as error:
        environment_variant(drop(f"ci.{field}"), base="staging")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("project_id", 0, "is not a GitLab id"),
    ("namespace_id", -3, "is not a GitLab id"),
    ("project_id", "4242", "must be a whole number"),
    ("oidc_provider", "lookup", "is neither 'create' nor 'existing'"),
])
def test_bad_ci_identity_is_one_line(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        environment_variant(set_at(f"ci.{field}", value), base="staging")
    assert f"ci.{field}" in str(error.value) and "\n" not in str(error.value)


# --- one OIDC provider per account and issuer ---------------------------------------------

def test_an_environment_that_does_not_own_the_provider_looks_it_up(tmp_path: Path) -> None:
    env = environment_variant(set_at("ci.oidc_provider", "existing"), base="staging")
    stack = synth_ci(env, tmp_path)
    assert not stack.resources("aws_iam_openid_connect_provider")
    (address, lookup), = stack.data.get("data", {})["aws_iam_openid_connect_provider"].items()
    assert lookup["url"] == env.ci.gitlab_url
    reference = f"${{data.aws_iam_openid_connect_provider.{address}.arn}}"
    assert {trust.principal for trust in federated_trusts("ci", stack.data)} == {reference}
    guardrails = next(json.loads(p["policy"]) for p in stack.resources("aws_iam_role_policy").values() if p["name"] == "guardrails")
    (keep,) = [s for s in guardrails["Statement"] if s["Sid"] == "KeepCiIdentityProvider"]
    assert keep["Resource"] == [reference], "the deploy role may not change the shared provider either"
    assert stack_trust_problems(env, {"ci": stack.data}) == []


def test_the_owner_keeps_the_provider_from_a_casual_destroy(tmp_path: Path) -> None:
    stack = synth_ci(load_environment("staging"), tmp_path)
    (provider,) = stack.resources("aws_iam_openid_connect_provider").values()
    assert provider["lifecycle"]["prevent_destroy"] is True


def test_the_roles_record_the_projects_immutable_ids(tmp_path: Path) -> None:
    env = load_environment("staging")
    stack = synth_ci(env, tmp_path)
    for role in stack.resources("aws_iam_role").values():
        assert role["tags"] == {"gitlab-project": "platform/vault-platform", "gitlab-project-id": "4242",
                                "gitlab-namespace-id": "1717"}


# --- the check, attacked ------------------------------------------------------------------

@pytest.fixture(scope="module")
def staging_ci(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return synth_ci(load_environment("staging"), tmp_path_factory.mktemp("ci-trust")).data


def trusting(stack: dict, principal: str, condition: dict, name: str = "backdoor") -> dict:
    altered = copy.deepcopy(stack)
    altered["resource"]["aws_iam_role"][name] = {"name": name, "assume_role_policy": json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": principal},
                                                "Action": "sts:AssumeRoleWithWebIdentity", "Condition": condition}]})}
    return altered


def provider_reference(stack: dict) -> str:
    (address,) = stack["resource"]["aws_iam_openid_connect_provider"]
    return f"${{aws_iam_openid_connect_provider.{address}.arn}}"


def test_the_named_trust_passes(staging_ci: dict) -> None:
    assert stack_trust_problems(load_environment("staging"), {"ci": staging_ci}) == []


def test_a_literal_provider_arn_is_refused(staging_ci: dict) -> None:
    altered = trusting(staging_ci, STRANGER, {"StringEquals": {"gitlab.com:sub": "project_path:x/y:ref_type:branch:ref:main"}})
    (problem,) = stack_trust_problems(load_environment("staging"), {"ci": altered})
    assert f"role backdoor trusts federated principal {STRANGER} (issuer unknown)" in problem
    assert "names only https://gitlab.example.com" in problem


def test_another_project_on_the_named_instance_is_refused(staging_ci: dict) -> None:
    sub = "project_path:someone-else/vault-platform:ref_type:branch:ref:main"
    altered = trusting(staging_ci, provider_reference(staging_ci),
                       {"StringEquals": {"gitlab.example.com:aud": "sts.amazonaws.com", "gitlab.example.com:sub": sub}})
    (problem,) = stack_trust_problems(load_environment("staging"), {"ci": altered})
    assert "someone-else" in problem and "names only project platform/vault-platform" in problem


@pytest.mark.parametrize("condition", [
    {"StringEquals": {"gitlab.example.com:aud": "sts.amazonaws.com"}},  # any project, any branch
    {"StringLike": {"gitlab.example.com:sub": "project_path:platform/vault-platform:*"}},  # any audience
])
def test_a_trust_missing_sub_or_aud_is_refused(staging_ci: dict, condition: dict) -> None:
    altered = trusting(staging_ci, provider_reference(staging_ci), condition)
    assert stack_trust_problems(load_environment("staging"), {"ci": altered})


def test_a_second_issuer_is_refused(staging_ci: dict) -> None:
    altered = trusting(staging_ci, "${aws_iam_openid_connect_provider.other.arn}",
                       {"StringEquals": {"gitlab.com:aud": "sts.amazonaws.com",
                                         "gitlab.com:sub": "project_path:platform/vault-platform:ref_type:branch:ref:main"}})
    altered["resource"]["aws_iam_openid_connect_provider"]["other"] = {"url": "https://gitlab.com", "client_id_list": ["x"]}
    (problem,) = stack_trust_problems(load_environment("staging"), {"ci": altered})
    assert "(issuer https://gitlab.com)" in problem


def test_without_ci_even_the_ci_construct_is_refused(staging_ci: dict) -> None:
    problems = stack_trust_problems(load_environment("default"), {"ci": staging_ci})
    assert len(problems) == 2 and all("has no [ci] table" in p for p in problems)


def test_the_synth_refuses_it_in_one_line(staging_ci: dict) -> None:
    altered = trusting(staging_ci, STRANGER, {})
    with pytest.raises(ConfigError) as error:
        check_federated_trust(load_environment("staging"), {"staging-tooling": altered})
    message = str(error.value)
    assert message.startswith("environments/staging.toml: ci = 'https://gitlab.example.com': staging-tooling: role backdoor")
    assert "; fix: remove that trust" in message and "\n" not in message


def test_an_irsa_role_bound_to_no_service_account_is_refused(default_stacks: dict[str, StackJson]) -> None:
    tooling = default_stacks["tooling"].data
    (address,) = [a for a, p in tooling["resource"]["aws_iam_openid_connect_provider"].items()]
    altered = trusting(tooling, f"${{aws_iam_openid_connect_provider.{address}.arn}}", {})
    problems = stack_trust_problems(load_environment("default"), {"tooling": altered})
    assert len(problems) == 1 and "without binding one service account" in problems[0]


# --- what people read ---------------------------------------------------------------------

def test_the_trusted_identities_are_described() -> None:
    assert "no CI pipeline" in describe(load_environment("default"))[-1]
    text = "\n".join(describe(load_environment("staging")))
    assert "GitLab https://gitlab.example.com (IAM OIDC provider created by this environment), project platform/vault-platform" in text
    assert "project id 4242, namespace id 1717" in text and "branch staging" in text


def test_the_plan_summary_says_who_is_trusted_before_any_count() -> None:
    from vault_platform.ops.plan_summary import StackPlan, render_markdown

    markdown = render_markdown([StackPlan("staging-tooling", "planned")], title="t",
                               trusted_identities=describe(load_environment("staging")))
    section = markdown.index("## External identities this environment trusts")
    assert section < markdown.index("| stack | status |")
    assert "  - staging-ci-deploy (AdministratorAccess minus the guardrails' denies): branch staging" in markdown
