"""The S3 bucket that holds an environment's Terraform state: versioned (a bad apply's
state can be rolled back), SSE-KMS with the environment's state key, never public, TLS
only, ACLs off (constructs/private_bucket.py), and protected from destroy like every other
store of data here."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from constructs import Construct

from vault_platform.constructs.private_bucket import harden_bucket
from vault_platform.constructs.protection import protected_lifecycle


@dataclass(frozen=True)
class StateBucketProps:
    bucket: str
    kms_key_arn: str  # token of the key the bootstrap stack creates


class StateBucket(Construct):
    def __init__(self, scope: Construct, id: str, props: StateBucketProps) -> None:
        super().__init__(scope, id)
        # force_destroy off and prevent_destroy on: a destroy never empties the state away.
        self.bucket = S3Bucket(self, "bucket", bucket=props.bucket, force_destroy=False, lifecycle=protected_lifecycle(self))
        harden_bucket(self, self.bucket, props.kms_key_arn)
        self.arn = self.bucket.arn
