"""What `make deploy STACKS=...` relies on, run with the real cdktf CLI 0.21 and Terraform
against the emulator: a stack named without the stack it reads is refused by a plain
`cdktf deploy` ("dependencies are not included", issue 19), and deployed by the command
ops/deploy.py builds (--skip-synth --ignore-missing-stack-dependencies), reading the earlier
stack's outputs from its state.

A two-stack app stands for the environment (a role, and a policy on it from the next stack):
the environment's own stacks need the emulator's gap filter between synth and apply, which
the round trip (tests/test_emulator_roundtrip_multi.py) exercises."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from cdktf import App, LocalBackend, TerraformStack
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.provider import AwsProvider

from tests.helpers import terraform_mirror
from vault_platform.constructs.policy import allow, policy_document, service_assume_role_policy
from vault_platform.ops.deploy import assumed_deployed, cdktf_command
from vault_platform.ops.emulator import Emulator
from vault_platform.ops.emulator_deploy import cdktf_binary
from vault_platform.ops.terraform_cli import Terraform
from vault_platform.state_backend import state_path

pytestmark = [pytest.mark.terraform, pytest.mark.integration]


def two_stacks(outdir: Path) -> None:
    app = App(outdir=str(outdir))
    first = TerraformStack(app, "first")
    AwsProvider(first, "aws", region="eu-west-1")
    LocalBackend(first, path=state_path("first"))  # the environment's own relative paths
    role = IamRole(first, "role", name="partial-deploy", assume_role_policy=service_assume_role_policy("ec2.amazonaws.com"))
    second = TerraformStack(app, "second")
    AwsProvider(second, "aws", region="eu-west-1")
    LocalBackend(second, path=state_path("second"))
    IamRolePolicy(second, "policy", role=role.name,  # a cross-stack reference: second depends on first
                  policy=policy_document([allow(["s3:ListBucket"], ["arn:aws:s3:::example"], sid="List")]))
    app.synth()


def test_a_stack_named_without_its_dependency_deploys_with_the_commands_flags(tmp_path: Path) -> None:
    outdir = tmp_path / "cdktf.out"
    two_stacks(outdir)
    # The CLI wants a project file; --skip-synth never runs its app.
    (tmp_path / "cdktf.json").write_text('{"language": "python", "app": "false"}')
    assert assumed_deployed(outdir, ["second"]) == ["first"]
    mirror = terraform_mirror({"terraform": {"required_providers": {"aws": {"source": "aws", "version": "5.100.0"}}}})
    with Emulator() as emulator, Terraform(outdir / "stacks" / "first", mirror) as config:
        env = {**os.environ, **emulator.aws_env("eu-west-1"), "TF_CLI_CONFIG_FILE": str(config.cli_config),
               "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}

        def cdktf(stacks: list[str], *extra: str, ignore_missing: bool = True) -> subprocess.CompletedProcess[str]:
            words = cdktf_command(stacks, outdir, auto_approve=True, cdktf=cdktf_binary())
            if not ignore_missing:
                words.remove("--ignore-missing-stack-dependencies")
            return subprocess.run([*words, "--skip-provider-lock", "--no-color", *extra], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=300)

        refused = cdktf(["second"], ignore_missing=False)
        assert refused.returncode != 0 and "dependencies" in refused.stdout + refused.stderr

        assert cdktf(["first"]).returncode == 0
        deployed = cdktf(["second"])
        assert deployed.returncode == 0, deployed.stdout[-6000:]
        import boto3

        iam = boto3.client("iam", endpoint_url=emulator.endpoint, region_name="eu-west-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        assert len(iam.list_role_policies(RoleName="partial-deploy")["PolicyNames"]) == 1
