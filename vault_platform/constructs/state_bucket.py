"""The S3 bucket that holds an environment's Terraform state: versioned (a bad apply's
state can be rolled back), SSE-KMS with the environment's state key, never public, TLS
only, ACLs off, and protected from destroy like every other store of data here."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_ownership_controls import S3BucketOwnershipControls, S3BucketOwnershipControlsRule
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from cdktf_cdktf_provider_aws.s3_bucket_versioning import S3BucketVersioningA, S3BucketVersioningVersioningConfiguration
from constructs import Construct

from vault_platform.constructs.policy import policy_document
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
        bucket_id = self.bucket.id
        S3BucketVersioningA(self, "versioning", bucket=bucket_id,
                            versioning_configuration=S3BucketVersioningVersioningConfiguration(status="Enabled"))
        S3BucketServerSideEncryptionConfigurationA(self, "encryption", bucket=bucket_id, rule=[
            S3BucketServerSideEncryptionConfigurationRuleA(
                apply_server_side_encryption_by_default=S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                    sse_algorithm="aws:kms", kms_master_key_id=props.kms_key_arn),
                bucket_key_enabled=True,  # one KMS call per bucket key period, not per object
            ),
        ])
        S3BucketPublicAccessBlock(self, "public-access-block", bucket=bucket_id, block_public_acls=True,
                                  block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True)
        S3BucketOwnershipControls(self, "ownership", bucket=bucket_id,
                                  rule=S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"))
        S3BucketPolicy(self, "policy", bucket=bucket_id, policy=policy_document([{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [self.bucket.arn, f"{self.bucket.arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }]))
        self.arn = self.bucket.arn
