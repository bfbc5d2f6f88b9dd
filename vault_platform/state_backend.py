"""Where a stack keeps its Terraform state: local next to cdktf.json, or the environment's
S3 bucket when its file has a ``[state]`` table.

Remote state is one object per stack (``<environment name>/<stack id>.tfstate``), so two
stacks, or two environments, never write the same object; Terraform's S3 lockfile
(``use_lockfile``, Terraform >= 1.10) serialises concurrent runs on one stack without a
DynamoDB table; every object is encrypted with the environment's KMS key.
"""

from __future__ import annotations

from cdktf import LocalBackend, S3Backend, S3BackendAssumeRoleConfig, TerraformBackend
from constructs import Construct

from vault_platform.config.model import EnvironmentConfig


def state_path(stack_id: str) -> str:
    """Local state file of a stack, relative to its working directory cdktf.out/stacks/<id>.

    Relative (no machine path in the JSON) and the same from every stack's directory, so
    the remote-state lookups that cdktf writes for cross-stack references find it too.
    State ends up next to cdktf.json, where cdktf keeps it by default.
    """
    return f"../../../terraform.{stack_id}.tfstate"


def state_key(env: EnvironmentConfig, stack_id: str) -> str:
    return f"{env.name}/{stack_id}.tfstate"


def session_name(env: EnvironmentConfig) -> str:
    """Shown in CloudTrail for every call made through the assumed role."""
    return f"vault-platform-{env.name}"


def state_backend(stack: Construct, env: EnvironmentConfig, stack_id: str, *, local: bool = False) -> TerraformBackend:
    """local: keep local state whatever the environment says (the bootstrap stack, which
    creates the bucket, cannot keep its state in it)."""
    state = env.state
    if state is None or local:
        return LocalBackend(stack, path=state_path(stack_id))
    backend = S3Backend(
        stack,
        bucket=state.bucket,
        key=state_key(env, stack_id),
        region=state.region,
        encrypt=True,
        kms_key_id=state.kms_key_arn,
        # The state lives in the account it describes: reach it the way the provider does.
        assume_role=S3BackendAssumeRoleConfig(role_arn=env.assume_role_arn, session_name=session_name(env))
        if env.assume_role_arn else None,
    )
    # Terraform's native S3 lock (a <key>.tflock object); cdktf 0.21's S3Backend has no
    # property for it yet, so it is set on the backend block directly.
    backend.add_override("use_lockfile", True)
    return backend
