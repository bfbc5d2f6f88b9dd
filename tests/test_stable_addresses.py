"""Resource addresses are part of the contract with existing state (the snapshots pin them).

Renaming a construct id changes a resource's address, and Terraform then plans to destroy
the resource at the old address, even a protected one: prevent_destroy lives in the
configuration, and the old address is no longer in it. cdktf's move support
(``resource.move_from_id("<type>.<old address>")``) writes a Terraform ``moved`` block
instead, and the plan becomes a no-op move. Shown on a tiny App with the real Terraform and
AWS provider: a plan against state holding the old address, without and with the move.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cdktf import App, TerraformStack
from cdktf_cdktf_provider_aws.provider import AwsProvider
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from constructs import Construct

from tests.test_terraform_validate import terraform_and_mirror
from vault_platform.constructs.protection import protected_lifecycle
from vault_platform.ops.terraform_cli import Terraform, first_error, required_providers

OLD_ADDRESS = "aws_s3_bucket.audit-logs"
BUCKET = "example-audit-logs"


def synth(outdir: Path, *, refactored: bool) -> dict:
    """Before: S3Bucket(stack, "audit-logs"). After the refactor it lives in a construct
    "storage" with id "audit", and says where it moved from."""
    app = App(outdir=str(outdir))
    stack = TerraformStack(app, "refactor")
    AwsProvider(stack, "aws", region="eu-west-1")
    if refactored:
        storage = Construct(stack, "storage")
        bucket = S3Bucket(storage, "audit", bucket=BUCKET, lifecycle=protected_lifecycle(storage))
        bucket.move_from_id(OLD_ADDRESS)
    else:
        S3Bucket(stack, "audit-logs", bucket=BUCKET, lifecycle=protected_lifecycle(stack))
    app.synth()
    return json.loads((outdir / "stacks" / "refactor" / "cdk.tf.json").read_text())


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    return (synth(tmp_path_factory.mktemp("before"), refactored=False),
            synth(tmp_path_factory.mktemp("after"), refactored=True))


def test_refactor_writes_a_moved_block(versions: tuple[dict, dict]) -> None:
    before, after = versions
    assert list(before["resource"]["aws_s3_bucket"]) == ["audit-logs"]
    (address, bucket), = after["resource"]["aws_s3_bucket"].items()
    assert address != "audit-logs" and bucket["lifecycle"]["prevent_destroy"] is True
    assert after["moved"] == [{"from": OLD_ADDRESS, "to": f"aws_s3_bucket.{address}"}]


def offline(config: dict) -> dict:
    """Plan without an AWS account: no credential check, no refresh, state in ./terraform.tfstate
    (the test's copy only)."""
    provider = {**config["provider"]["aws"][0], "skip_credentials_validation": True, "skip_requesting_account_id": True,
                "skip_metadata_api_check": "true"}
    terraform = {k: v for k, v in config["terraform"].items() if k != "backend"}
    return {**config, "provider": {"aws": [provider]}, "terraform": terraform}


def state_with_old_address() -> dict:
    """What `terraform apply` of the old version left: the bucket at its old address."""
    return {"version": 4, "terraform_version": "1.11.0", "serial": 1, "lineage": "00000000-0000-4000-8000-000000000001",
            "outputs": {}, "resources": [{
                "mode": "managed", "type": "aws_s3_bucket", "name": OLD_ADDRESS.split(".")[1],
                "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
                "instances": [{"schema_version": 0, "sensitive_attributes": [],
                               "attributes": {"id": BUCKET, "bucket": BUCKET, "force_destroy": False, "tags": {}, "tags_all": {}}}],
            }]}


@pytest.mark.terraform
def test_plan_moves_instead_of_destroying(versions: tuple[dict, dict], tmp_path: Path) -> None:
    _, after = versions
    mirror = terraform_and_mirror(required_providers(after)[0])
    (tmp_path / "terraform.tfstate").write_text(json.dumps(state_with_old_address()))
    fake_credentials = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-a-secret",
                        "AWS_EC2_METADATA_DISABLED": "true"}

    def plan(config: dict) -> list[tuple[str, str | None, list[str]]]:
        (tmp_path / "cdk.tf.json").write_text(json.dumps(offline(config)))
        result = terraform.run("plan", "-refresh=false", "-input=false", "-out=plan.out", check=False)
        assert result.returncode == 0, first_error(result)
        changes = terraform.show_json("plan.out")["resource_changes"]
        return sorted((c["address"], c.get("previous_address"), c["change"]["actions"]) for c in changes)

    with Terraform(tmp_path, mirror, env=fake_credentials) as terraform:
        (tmp_path / "cdk.tf.json").write_text(json.dumps(offline(after)))
        terraform.init(backend=True)
        new_address = f"aws_s3_bucket.{next(iter(after['resource']['aws_s3_bucket']))}"
        # Without the move: the protected bucket's old address is destroyed, a new one created.
        without_move = plan({k: v for k, v in after.items() if k != "moved"})
        assert without_move == [(OLD_ADDRESS, None, ["delete"]), (new_address, None, ["create"])]
        # With it: nothing to do but record the new address.
        assert plan(after) == [(new_address, OLD_ADDRESS, ["no-op"])]
