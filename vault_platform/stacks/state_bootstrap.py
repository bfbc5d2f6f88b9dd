"""The ``state-bootstrap`` stack: the S3 bucket and KMS key that hold the environment's
remote state (its ``[state]`` table). It keeps its own state locally, since it creates the
bucket the others use: deploy it once per environment, before any other stack, with
``python main.py --env <name> --bootstrap`` then ``cdktf deploy <name>-state-bootstrap``,
and keep its local state file (terraform.<name>-state-bootstrap.tfstate) safe.
"""

from __future__ import annotations

from constructs import Construct

from vault_platform.config.model import EnvironmentConfig
from vault_platform.constructs.kms import KmsKey, KmsKeyProps
from vault_platform.constructs.state_bucket import StateBucket, StateBucketProps
from vault_platform.errors import ConfigError
from vault_platform.stacks.base import PlatformStack


def state_key_alias(env: EnvironmentConfig) -> str:
    """The alias name (after alias/) the bootstrap gives the state key: state.kms_key_arn's."""
    state = env.state
    if state is None:
        raise ConfigError("state", "<missing>", f"{env.source or 'the environment'} has no [state] table, so there is no bucket to bootstrap",
                          "add [state] with bucket, region and kms_key_arn, or drop --bootstrap (local state needs none)")
    alias = state.kms_key_alias
    if alias is None:
        raise ConfigError("state.kms_key_arn", state.kms_key_arn, "names an existing key, which the bootstrap stack cannot create",
                          "write the alias ARN the bootstrap should create (…:alias/terraform-state), or create the bucket yourself")
    return alias


class StateBootstrapStack(PlatformStack):
    def __init__(self, scope: Construct, stack_id: str, env: EnvironmentConfig) -> None:
        alias = state_key_alias(env)  # refused before the stack exists
        assert env.state is not None
        super().__init__(scope, stack_id, env, local_state=True, region=env.state.region)
        self.key = KmsKey(self, "state-key", KmsKeyProps(
            alias=alias, description=f"Terraform state of environment {env.name}",
            account_id=self.account.account_id, partition=self.account.partition))
        self.bucket = StateBucket(self, "state-bucket", StateBucketProps(bucket=env.state.bucket, kms_key_arn=self.key.arn))
        self.output("bucket", self.bucket.bucket.bucket, "State bucket: [state] bucket of the environment file")
        self.output("kms_key_arn", self.key.arn, "State key")
        self.output("kms_alias_arn", self.key.alias_arn, "State key alias: [state] kms_key_arn of the environment file")
