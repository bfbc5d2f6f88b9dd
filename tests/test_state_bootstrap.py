"""The state-bootstrap stack: the bucket and key an environment's [state] table names, made
safe to hold state (versioned, SSE-KMS, never public, TLS only, protected from destroy),
kept itself in local state, synthesized only on request, and valid for the real AWS
provider. A stack on the S3 backend validates too."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.synth import StackJson
from tests.test_terraform_validate import terraform_and_mirror
from vault_platform.app import STATE_BOOTSTRAP, stack_id, synthesize
from vault_platform.config import load_environment
from vault_platform.constructs.protection import STATEFUL_RESOURCE_TYPES
from vault_platform.state_backend import state_path
from vault_platform.ops.terraform_cli import (
    Terraform,
    required_providers,
    validate_directory,
)

BOOTSTRAP = stack_id("staging", STATE_BOOTSTRAP)


@pytest.fixture(scope="module")
def staging(tmp_path_factory: pytest.TempPathFactory) -> dict[str, StackJson]:
    outdir = tmp_path_factory.mktemp("bootstrap") / "cdktf.out"
    stacks = synthesize(load_environment("staging"), "staging", str(outdir), bootstrap=True)
    return {s.stack_id: StackJson(s.stack_id, s.path, json.loads(s.path.read_text())) for s in stacks}


def test_bootstrap_is_first_and_only_on_request(staging: dict[str, StackJson], default_stacks: dict[str, StackJson]) -> None:
    assert next(iter(staging)) == BOOTSTRAP
    assert not any(STATE_BOOTSTRAP in name for name in default_stacks)


def test_bootstrap_keeps_local_state_and_the_others_use_its_bucket(staging: dict[str, StackJson]) -> None:
    env = load_environment("staging")
    assert staging[BOOTSTRAP].data["terraform"]["backend"] == {"local": {"path": state_path(BOOTSTRAP)}}
    bucket = staging[BOOTSTRAP].one("aws_s3_bucket")
    assert bucket["bucket"] == env.state.bucket
    assert staging[stack_id("staging", "tooling")].data["terraform"]["backend"]["s3"]["bucket"] == bucket["bucket"]


def test_state_bucket_is_versioned_encrypted_private_and_tls_only(staging: dict[str, StackJson]) -> None:
    stack = staging[BOOTSTRAP]
    bucket_address = next(iter(stack.resources("aws_s3_bucket")))
    bucket_id = f"${{aws_s3_bucket.{bucket_address}.id}}"
    bucket = stack.one("aws_s3_bucket")
    assert bucket["force_destroy"] is False and bucket["lifecycle"]["prevent_destroy"] is True
    versioning = stack.one("aws_s3_bucket_versioning")
    assert versioning["bucket"] == bucket_id and versioning["versioning_configuration"]["status"] == "Enabled"
    encryption = stack.one("aws_s3_bucket_server_side_encryption_configuration")
    default = encryption["rule"][0]["apply_server_side_encryption_by_default"]
    key_address = next(iter(stack.resources("aws_kms_key")))
    assert encryption["bucket"] == bucket_id
    assert default == {"sse_algorithm": "aws:kms", "kms_master_key_id": f"${{aws_kms_key.{key_address}.arn}}"}
    block = stack.one("aws_s3_bucket_public_access_block")
    assert all(block[flag] is True for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"))
    assert stack.one("aws_s3_bucket_ownership_controls")["rule"]["object_ownership"] == "BucketOwnerEnforced"
    policy = json.loads(stack.one("aws_s3_bucket_policy")["policy"])
    deny, = policy["Statement"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Action"] == "s3:*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert f"${{aws_s3_bucket.{bucket_address}.arn}}/*" in deny["Resource"]


def test_state_key_rotates_is_protected_and_has_the_configured_alias(staging: dict[str, StackJson]) -> None:
    stack = staging[BOOTSTRAP]
    key = stack.one("aws_kms_key")
    assert key["enable_key_rotation"] is True and key["lifecycle"]["prevent_destroy"] is True
    alias = load_environment("staging").state.kms_key_arn.split(":", 5)[5]
    assert stack.one("aws_kms_alias")["name"] == alias
    for resource_type in STATEFUL_RESOURCE_TYPES:
        for name, resource in stack.resources(resource_type).items():
            assert resource["lifecycle"]["prevent_destroy"] is True, name


def test_allow_destroy_lifts_the_bucket_protection_only_when_asked(tmp_path: Path) -> None:
    stacks = synthesize(load_environment("staging"), "staging", str(tmp_path / "out"), bootstrap=True, allow_destroy=True)
    data = json.loads(stacks[0].path.read_text())
    assert next(iter(data["resource"]["aws_s3_bucket"].values()))["lifecycle"]["prevent_destroy"] is False


@pytest.mark.terraform
@pytest.mark.parametrize("stack", [BOOTSTRAP])
def test_terraform_validate(stack: str, staging: dict[str, StackJson], tmp_path: Path) -> None:
    """The bootstrap stack with the real AWS provider (a stack on the S3 backend: the test below)."""
    synthesized = staging[stack]
    mirror = terraform_and_mirror(required_providers(synthesized.data)[0])
    work = tmp_path / stack
    shutil.copytree(synthesized.path.parent, work)
    valid, problems = validate_directory(work, mirror)
    assert valid, f"{stack} is not valid:\n" + "\n".join(problems)


# Credentials that reach nothing: Terraform decodes the backend block, then fails to connect.
NOWHERE = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-a-secret", "AWS_MAX_ATTEMPTS": "1",
           "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9",
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_PROFILE": "", "AWS_CONFIG_FILE": "/dev/null",
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}


@pytest.mark.terraform
def test_terraform_accepts_the_s3_backend_block(tmp_path_factory: pytest.TempPathFactory) -> None:
    """`terraform init` with the backend: it must get as far as calling AWS (refused here),
    i.e. Terraform 1.11 knows every argument (use_lockfile, kms_key_id, assume_role). The
    same run with one unknown argument fails on that argument, so the check can fail.
    Production's block has every argument any environment's has; with assume_role, init
    stops at the first STS call instead of retrying S3 for a quarter of a minute."""
    environment, stack = "production", stack_id("production", "tooling")
    outdir = tmp_path_factory.mktemp("s3-backend") / "cdktf.out"
    synthesized = {s.stack_id: s for s in synthesize(load_environment(environment), environment, str(outdir))}[stack]
    data = json.loads(synthesized.path.read_text())
    mirror = terraform_and_mirror(required_providers(data)[0])

    def init(backend: dict) -> str:
        work = tmp_path_factory.mktemp("init")
        (work / "cdk.tf.json").write_text(json.dumps({**data, "terraform": {**data["terraform"], "backend": {"s3": backend}}}))
        with Terraform(work, mirror, env=NOWHERE) as terraform:
            result = terraform.run("init", "-input=false", check=False)
        assert result.returncode != 0
        return result.stderr + result.stdout

    accepted = init(data["terraform"]["backend"]["s3"])
    assert "127.0.0.1:9" in accepted, accepted[-800:]
    assert "No argument or block type is named" not in accepted and "Invalid" not in accepted, accepted[-800:]
    refused = init({**data["terraform"]["backend"]["s3"], "use_lockfile_typo": True})
    assert 'No argument or block type is named "use_lockfile_typo"' in refused, refused[-800:]
