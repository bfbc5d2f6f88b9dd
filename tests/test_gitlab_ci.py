"""The pipeline users get: test -> plan -> manual deploy on main, OIDC only, no static keys."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.helpers import environment_variant, set_at
from tests.synth import StackJson
from vault_platform.gitops import vault_checks
from vault_platform.config import load_environment
from vault_platform.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
CI = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())
JOBS = {name: job for name, job in CI.items() if isinstance(job, dict) and "stage" in job}


def test_stages_in_order() -> None:
    assert CI["stages"] == ["test", "build", "plan", "deploy"]
    assert {job["stage"] for job in JOBS.values()} == {"test", "build", "plan", "deploy"}


def test_deploy_is_manual_and_only_on_the_configured_branch() -> None:
    """Not a hard-coded "main": DEPLOY_BRANCH ([ci] deploy_branch); unset, nothing deploys."""
    assert JOBS["deploy"]["rules"] == [{"if": "$DEPLOY_BRANCH && $CI_COMMIT_BRANCH == $DEPLOY_BRANCH", "when": "manual"}]


def test_the_pipeline_names_no_environment_and_deploys_none_with_local_state(capsys) -> None:
    """Before: ENV defaulted to 'default', whose local state the deploy job threw away."""
    from vault_platform.ops import deploy

    assert CI["variables"]["ENV"] == "" and CI["default"]["image"] == "$CI_IMAGE"
    assert "REMOTE_STATE_ONLY=1" in "\n".join(JOBS["deploy"]["script"])
    assert deploy.main(["--env", "default", "--require-remote-state", "--dry-run"]) == 2
    assert "keeps local state, which a CI job throws away" in capsys.readouterr().err
    assert deploy.main(["--env", "staging", "--require-remote-state", "--dry-run"]) == 0


def test_deploy_applies_every_clusters_aws_stack_of_the_environment() -> None:
    """The deploy job asks the app for the stack ids (namespaced, every application cluster)
    instead of naming two: with three application clusters all four cluster stacks deploy."""
    import main

    script = "\n".join(JOBS["deploy"]["script"])
    assert '--list-stacks clusters' in script and re.search(r'make deploy ENV="\$ENV" STACKS="\$STACKS" ', script, re.M)
    assert main._listed("clusters", "default", load_environment("default")) == ["tooling", "application"]
    assert main._listed("clusters", "multi", load_environment("multi")) == [
        "multi-tooling", "multi-payments", "multi-search", "multi-analytics"]


def test_plan_keeps_its_summary_as_artifact() -> None:
    plan = JOBS["plan"]
    assert "plan-summary.md" in plan["artifacts"]["paths"]
    assert any("vault_platform.ops.plan" in line and "--summary plan-summary.md" in line for line in plan["script"])


def test_plan_keeps_the_flow_matrix_it_compares_with_between_pipelines() -> None:
    """The base of the summary's flow section survives a fresh clone: the path the plan
    writes is the cache's (written on the default branch only) and an artifact."""
    from vault_platform.ops.plan import FLOW_MATRIX_DIR

    plan = JOBS["plan"]
    assert any(f'--flow-matrix "{FLOW_MATRIX_DIR}/flows-$ENV.json"' in line for line in plan["script"])
    assert plan["cache"]["paths"] == [f"{FLOW_MATRIX_DIR}/"] and f"{FLOW_MATRIX_DIR}/" in plan["artifacts"]["paths"]
    assert "$ENV" in plan["cache"]["key"]
    policies = {rule["if"]: rule["variables"]["FLOW_MATRIX_CACHE_POLICY"] for rule in plan["rules"]}
    assert policies == {'$CI_PIPELINE_SOURCE == "merge_request_event"': "pull",
                        "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH": "pull-push"}
    assert plan["cache"]["policy"] == "$FLOW_MATRIX_CACHE_POLICY"


def test_aws_jobs_use_an_oidc_id_token_with_the_roles_audience() -> None:
    audience = load_environment("staging").ci.audience
    for name in ("plan", "deploy"):
        tokens = JOBS[name]["id_tokens"]
        assert tokens["AWS_ID_TOKEN"]["aud"] == audience
        assert "AWS_ROLE_ARN" in JOBS[name]["variables"]
        assert any("AWS_WEB_IDENTITY_TOKEN_FILE" in line for line in JOBS[name]["script"])


def test_no_static_aws_keys_anywhere() -> None:
    text = (ROOT / ".gitlab-ci.yml").read_text()
    assert "AWS_SECRET_ACCESS_KEY" not in text and "AWS_ACCESS_KEY_ID" not in text


def test_without_ci_the_default_environment_has_no_roles_for_the_pipeline(tooling: StackJson) -> None:
    """The pipeline's AWS jobs need an environment with [ci] (tests/test_ci_trust.py)."""
    assert not {"ci_plan_role_arn", "ci_deploy_role_arn"} & set(tooling.outputs())


@pytest.mark.parametrize(("field", "value", "message"), [
    ("gitlab_url", "http://gitlab.example.com", "not an https URL"),
    ("gitlab_url", "https://gitlab.example.com/", "not an https URL"),
    ("project_path", "vault-platform", "not a GitLab project path"),
    ("deploy_branch", "release/*", "not a single branch name"),
])
def test_bad_ci_config_is_one_line(field: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        environment_variant(set_at(f"ci.{field}", value), base="staging")
    assert f"ci.{field}" in str(error.value) and "\n" not in str(error.value)


# --- CI -> Vault with the job's own JWT (README "GitLab CI -> Vault") ----------------------------
VAULT_CONFIG = ROOT / "flux" / "infrastructure" / "vault-config"
CI_ROLES = json.loads((VAULT_CONFIG / "config" / "ci-roles.json").read_text())
LOGIN = re.compile(r"printf '%s' \"\$(?P<token>\w+)\" \| \S*bao write -field=token "
                   r"auth/(?P<mount>[\w-]+)/login role=(?P<role>[\w-]+) jwt=-")
KV_GET = re.compile(r"bao kv get -mount=(?P<mount>\w+) -field=\w+ (?P<path>\S+)")


def vault_jobs() -> dict[str, dict]:
    return {name: job for name, job in JOBS.items() if any(LOGIN.search(line) for line in job.get("script", []))}


def test_a_job_logs_in_to_vault_with_its_own_id_token_for_vaults_audience() -> None:
    jobs = vault_jobs()
    assert jobs, "no job logs in to Vault with its id_tokens JWT"
    for name, job in jobs.items():
        login = next(LOGIN.search(line) for line in job["script"] if LOGIN.search(line))
        assert login["mount"] == vault_checks.configure_script().CI_MOUNT
        assert job["id_tokens"][login["token"]]["aud"] == CI_ROLES["audience"], name


def test_the_vault_job_runs_only_where_its_role_admits_it() -> None:
    ci = load_environment("staging").ci
    for name, job in vault_jobs().items():
        login = next(LOGIN.search(line) for line in job["script"] if LOGIN.search(line))
        role = CI_ROLES["roles"][login["role"]]
        assert role["project_path"] == ci.project_path and role["ref_protected"] is True
        # The role is bound to one branch: the job runs on that branch only.
        assert job["rules"] == [{"if": f'$CI_COMMIT_BRANCH == "{role["ref"]}"', "when": "manual"}], name


def test_the_vault_job_reads_a_secret_its_roles_policy_allows() -> None:
    for name, job in vault_jobs().items():
        login = next(LOGIN.search(line) for line in job["script"] if LOGIN.search(line))
        (policy,) = CI_ROLES["roles"][login["role"]]["token_policies"]
        readable = re.findall(r'path "(?P<mount>\w+)/data/(?P<prefix>[^"*]+)\*"\s*\{[^}]*"read"',
                              (VAULT_CONFIG / "policies" / f"{policy}.hcl").read_text())
        for line in job["script"]:
            for read in KV_GET.finditer(line):
                assert any(read["mount"] == mount and read["path"].startswith(prefix) for mount, prefix in readable), \
                    f"{name} reads {read['mount']}/{read['path']}, which policy {policy} does not allow"


# Jobs holding an ID token for Vault's audience (ci-roles.json), however their script uses it.
VAULT_JOBS = [name for name, job in JOBS.items()
              if any((token or {}).get("aud") == vault_checks.load_roles(vault_checks.CI_ROLES_FILE)["audience"]
                     for token in (job.get("id_tokens") or {}).values())]


@pytest.mark.parametrize("name", VAULT_JOBS)
def test_a_vault_id_token_is_never_in_the_install_steps_environment_nor_on_a_command_line(name: str) -> None:
    # GitLab exposes id_tokens to every step of the job; `make install` runs third-party
    # packages' install scripts. The token goes to Vault on stdin and leaves the environment.
    job = JOBS[name]
    tokens = sorted(job["id_tokens"])
    install = job.get("before_script", CI["default"]["before_script"])
    assert all(line.startswith("env " + " ".join(f"-u {t}" for t in tokens) + " ") for line in install), install
    script = "\n".join(job["script"])
    for token in tokens:
        assert f'="${token}"' not in script and f"=${token}" not in script, "an ID token on a command line"
        assert f"unset {token}" in script


AWS_JOBS = [name for name, job in JOBS.items()
            if any((token or {}).get("aud") == "sts.amazonaws.com" for token in (job.get("id_tokens") or {}).values())]


@pytest.mark.parametrize("name", AWS_JOBS)
def test_an_aws_id_token_stays_out_of_the_install_step_and_its_file_is_removed(name: str) -> None:
    """Before: `make install` ran with AWS_ID_TOKEN in its environment, the token was written
    with the runner's default umask to a fixed path and never removed (issue 20, item 4)."""
    job = JOBS[name]
    assert sorted(job["id_tokens"]) == ["AWS_ID_TOKEN"]
    install = job.get("before_script", CI["default"]["before_script"])
    assert all(line.startswith("env -u AWS_ID_TOKEN ") for line in install), install
    token_file = '"$CI_BUILDS_DIR/aws-id-token-$CI_JOB_ID"'  # per job: concurrent jobs never share it
    first = job["script"][0]
    assert first.startswith(f"export AWS_WEB_IDENTITY_TOKEN_FILE={token_file} && (umask 077 && ")
    assert first.endswith("unset AWS_ID_TOKEN")
    assert not any("$AWS_ID_TOKEN" in line for line in job["script"][1:])
    assert job["after_script"] == [f"rm -f {token_file}"]


# --- the image build on a release tag (docs/image-delivery.md) ----------------------------------
RUNNER = yaml.safe_load((ROOT / "flux" / "infrastructure" / "gitlab-runner" / "helmrelease.yaml").read_text())
RUNNER_CONFIG = RUNNER["spec"]["values"]["runners"]["config"]


def gitlab_regex(rule: str) -> re.Pattern[str]:
    """The /.../ of a rule `$CI_COMMIT_TAG =~ /.../` (GitLab's RE2; this one is plain enough for re)."""
    return re.compile(re.fullmatch(r"\$CI_COMMIT_TAG =~ /(.+)/", rule).group(1))


@pytest.mark.parametrize(("tag", "built"), [
    ("v1.4.0", True), ("v0.1.0", True), ("v10.20.30", True),
    ("latest", False), ("1.4.0", False), ("v1.4", False), ("v1.4.0-rc.1", False), ("v01.4.0", False),
    ("v1.4.0.sig", False), ("release-v1.4.0", False),
])
def test_the_image_is_built_on_release_tags_only(tag: str, built: bool) -> None:
    """A branch pipeline never builds; a tag builds only if it is vMAJOR.MINOR.PATCH, the
    tags .ci/build-image accepts and the ImagePolicy's semver range can pick."""
    [rule] = JOBS["build-image"]["rules"]
    assert set(rule) == {"if"}
    assert bool(gitlab_regex(rule["if"]).search(tag)) is built


def test_the_build_runs_on_the_platforms_runner_after_the_tests_and_pushes_once() -> None:
    job = JOBS["build-image"]
    assert job["needs"] == ["test"] and job["stage"] == "build"
    # The tag GitLab routes by; the runner is created with it (docs/image-delivery.md).
    assert job["tags"] == ["vault-platform-build"]
    assert "`vault-platform-build`" in (ROOT / "docs" / "image-delivery.md").read_text()
    script = "\n".join(job["script"])
    assert '.ci/build-image demo-app "$ECR_REGISTRY/$ENVIRONMENT_NAME/demo-app" "$CI_COMMIT_TAG"' in script
    # No OIDC token and no keys: the build pod's IRSA role is the only AWS identity.
    assert "id_tokens" not in job and "AWS_ROLE_ARN" not in job.get("variables", {})
    assert job["before_script"] == []  # `make install` needs the Python image, not the builder
    assert job["variables"]["REGISTRY_AUTH_FILE"] == "$CI_BUILDS_DIR/registry-auth-$CI_JOB_ID.json"
    assert job["after_script"] == ['rm -f "$CI_BUILDS_DIR/registry-auth-$CI_JOB_ID.json"']


def test_the_runner_gives_the_job_what_it_pushes_with() -> None:
    """The variables the job names come from the runner (platform-vars), and the image it pushes
    is the one the demo Deployments run (flux/apps/demo/)."""
    environment = re.search(r"environment = \[(.*?)\]", RUNNER_CONFIG, re.S).group(1)
    given = dict(re.findall(r'"(\w+)=([^"]*)"', environment))
    assert {key: given[key] for key in ("ECR_REGISTRY", "ENVIRONMENT_NAME", "AWS_REGION")} == {
        "ECR_REGISTRY": "${ECR_REGISTRY}", "ENVIRONMENT_NAME": "${ENVIRONMENT_NAME}", "AWS_REGION": "${AWS_REGION}"}
    demo = ROOT / "flux" / "apps" / "demo"
    # kustomize's images transformer gives the Deployments' "demo-app" its registry and tag.
    images = {image["name"]: image for image in yaml.safe_load((demo / "kustomization.yaml").read_text())["images"]}
    for name in ("app", "client"):
        [container] = yaml.safe_load((demo / f"deployment-{name}.yaml").read_text())[
            "spec"]["template"]["spec"]["containers"]
        assert images[container["image"]]["newName"] == "${ECR_REGISTRY}/${ENVIRONMENT_NAME}/demo-app"


def test_the_build_container_gets_the_least_buildah_needs() -> None:
    """User 0 with SETUID, SETGID and SETFCAP only (the user namespace Buildah maps itself),
    no privilege escalation, not privileged; the pod's account has no Kubernetes token."""
    context = RUNNER_CONFIG.split("[runners.kubernetes.build_container_security_context]", 1)[1]
    assert re.search(r"^\s*run_as_user = 0$", context, re.M) and re.search(r"^\s*allow_privilege_escalation = false$", context, re.M)
    assert re.search(r'^\s*drop = \["ALL"\]$', context, re.M)
    assert re.search(r'^\s*add = \[(.*)\]$', context, re.M).group(1) == '"SETUID", "SETGID", "SETFCAP"'
    assert re.search(r"^\s*privileged = false$", RUNNER_CONFIG, re.M)
    assert re.search(r'^\s*service_account = "gitlab-runner-build"$', RUNNER_CONFIG, re.M)
