"""The pipeline users get: test -> plan -> manual deploy on main, OIDC only, no static keys."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.helpers import environment_variant, set_at
from tests.synth import StackJson
from vault_platform.config import load_environment
from vault_platform.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
CI = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())
JOBS = {name: job for name, job in CI.items() if isinstance(job, dict) and "stage" in job}


def test_stages_in_order() -> None:
    assert CI["stages"] == ["test", "plan", "deploy"]
    assert {job["stage"] for job in JOBS.values()} == {"test", "plan", "deploy"}


def test_deploy_is_manual_and_only_on_main() -> None:
    deploy = [job for job in JOBS.values() if job["stage"] == "deploy"]
    assert deploy
    for job in deploy:
        assert job["rules"] == [{"if": '$CI_COMMIT_BRANCH == "main"', "when": "manual"}]


def test_plan_keeps_its_summary_as_artifact() -> None:
    plan = JOBS["plan"]
    assert "plan-summary.md" in plan["artifacts"]["paths"]
    assert any("vault_platform.plan" in line and "--summary plan-summary.md" in line for line in plan["script"])


def test_aws_jobs_use_an_oidc_id_token_with_the_roles_audience() -> None:
    audience = load_environment("default").ci.audience
    for name in ("plan", "deploy"):
        tokens = JOBS[name]["id_tokens"]
        assert tokens["AWS_ID_TOKEN"]["aud"] == audience
        assert "AWS_ROLE_ARN" in JOBS[name]["variables"]
        assert any("AWS_WEB_IDENTITY_TOKEN_FILE" in line for line in JOBS[name]["script"])


def test_no_static_aws_keys_anywhere() -> None:
    text = (ROOT / ".gitlab-ci.yml").read_text()
    assert "AWS_SECRET_ACCESS_KEY" not in text and "AWS_ACCESS_KEY_ID" not in text


def test_roles_trust_one_project_and_deploy_only_from_main(tooling: StackJson) -> None:
    provider = next(p for p in tooling.resources("aws_iam_openid_connect_provider").values() if "gitlab" in p["url"])
    assert provider["client_id_list"] == ["sts.amazonaws.com"]
    roles = {r["name"]: r for r in tooling.resources("aws_iam_role").values()}
    plan_trust, deploy_trust = roles["demo-ci-plan"]["assume_role_policy"], roles["demo-ci-deploy"]["assume_role_policy"]
    assert '"gitlab.com:sub":"project_path:platform/vault-platform:ref_type:branch:ref:*"' in plan_trust
    assert '"gitlab.com:sub":"project_path:platform/vault-platform:ref_type:branch:ref:main"' in deploy_trust
    assert '"gitlab.com:aud":"sts.amazonaws.com"' in deploy_trust
    assert {"ci_plan_role_arn", "ci_deploy_role_arn"} <= set(tooling.outputs())


@pytest.mark.parametrize(("field", "value", "message"), [
    ("gitlab_url", "http://gitlab.example.com", "not an https URL"),
    ("gitlab_url", "https://gitlab.example.com/", "not an https URL"),
    ("project_path", "vault-platform", "not a GitLab project path"),
    ("deploy_branch", "release/*", "not a single branch name"),
])
def test_bad_ci_config_is_one_line(field: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        environment_variant(set_at("ci", {field: value}))
    assert f"ci.{field}" in str(error.value) and "\n" not in str(error.value)
