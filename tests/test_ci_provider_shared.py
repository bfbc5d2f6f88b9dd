"""Two environments with [ci] in one account, applied by Terraform (real AWS provider from
the local mirror) to the emulator, which, like IAM, allows one OIDC provider per issuer URL.

GIVEN environment A that creates the account's GitLab provider, WHEN environment B also says
"create", THEN its apply fails with EntityAlreadyExists (what every second environment got
before [ci] had oidc_provider); WHEN B says "existing", THEN it applies, its roles trust A's
provider, and destroying B leaves the provider A's roles trust."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import boto3
import pytest

from tests.helpers import terraform_mirror
from tests.synth import StackJson, synth_construct
from vault_platform.config import load_environment
from vault_platform.config.model import EnvironmentConfig
from vault_platform.constructs.ci_oidc import CiOidc, CiOidcProps
from vault_platform.ops.emulator import Emulator
from vault_platform.ops.terraform_cli import Terraform, first_error
from vault_platform.stacks.base import PARTITION

pytestmark = [pytest.mark.terraform, pytest.mark.integration]


def environment(name: str, oidc_provider: str) -> EnvironmentConfig:
    base = load_environment("multi")  # [ci] with local state: no bucket to name
    return dataclasses.replace(base, name=name, ci=dataclasses.replace(base.ci, oidc_provider=oidc_provider))


def synth(env: EnvironmentConfig, outdir: Path) -> StackJson:
    return synth_construct(outdir, lambda stack: CiOidc(stack, "ci-oidc", CiOidcProps(
        name=env.name, ci=env.ci, state=env.state, partition=PARTITION)), stack_id=env.name, region=env.region)


def test_a_second_environment_of_the_account_looks_the_provider_up(tmp_path: Path) -> None:
    owner, second, lookup = (synth(environment("a", "create"), tmp_path / "a"),
                             synth(environment("b", "create"), tmp_path / "b"),
                             synth(environment("c", "existing"), tmp_path / "c"))
    mirror = terraform_mirror(owner.data)
    with Emulator() as emulator:
        aws = emulator.aws_env("eu-west-1")
        iam = boto3.client("iam", endpoint_url=emulator.endpoint, region_name="eu-west-1",
                           aws_access_key_id=aws["AWS_ACCESS_KEY_ID"], aws_secret_access_key=aws["AWS_SECRET_ACCESS_KEY"])
        terraforms = {stack.stack_id: Terraform(stack.path.parent, mirror, env=aws) for stack in (owner, second, lookup)}
        try:
            for terraform in terraforms.values():
                terraform.init(backend=True)
            applied = terraforms["a"].apply()
            assert applied.returncode == 0, first_error(applied)
            (provider,) = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]

            refused = terraforms["b"].apply()
            assert refused.returncode != 0 and "EntityAlreadyExists" in refused.stdout + refused.stderr

            applied = terraforms["c"].apply()
            assert applied.returncode == 0, first_error(applied)
            trust = iam.get_role(RoleName="c-ci-deploy")["Role"]["AssumeRolePolicyDocument"]
            assert trust["Statement"][0]["Principal"]["Federated"] == provider["Arn"]

            destroyed = terraforms["c"].run("destroy", "-auto-approve", "-input=false", check=False)
            assert destroyed.returncode == 0, first_error(destroyed)
            assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == [provider]
            assert iam.get_role(RoleName="a-ci-deploy")["Role"]["AssumeRolePolicyDocument"]["Statement"][0][
                "Principal"]["Federated"] == provider["Arn"]
        finally:
            for terraform in terraforms.values():
                terraform.close()
