"""What every S3 bucket of this platform that holds data has: versioning, SSE-KMS with its
own key (bucket key on), public access blocked, ACLs off, TLS only. The state bucket and the
Vault backup bucket each add what is theirs (constructs/state_bucket.py, backup_bucket.py).

Children get fixed ids under the caller's scope, so a bucket construct that moved here kept
its Terraform addresses."""

from __future__ import annotations

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


def harden_bucket(scope: Construct, bucket: S3Bucket, kms_key_arn: str) -> S3BucketVersioningA:
    """Versioning, encryption, public-access block, ownership and a TLS-only policy for
    ``bucket``, as children of ``scope``. Returns the versioning resource (lifecycle rules on
    versions must wait for it)."""
    bucket_id = bucket.id
    versioning = S3BucketVersioningA(scope, "versioning", bucket=bucket_id,
                                     versioning_configuration=S3BucketVersioningVersioningConfiguration(status="Enabled"))
    S3BucketServerSideEncryptionConfigurationA(scope, "encryption", bucket=bucket_id, rule=[
        S3BucketServerSideEncryptionConfigurationRuleA(
            apply_server_side_encryption_by_default=S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                sse_algorithm="aws:kms", kms_master_key_id=kms_key_arn),
            bucket_key_enabled=True,  # one KMS call per bucket key period, not per object
        ),
    ])
    S3BucketPublicAccessBlock(scope, "public-access-block", bucket=bucket_id, block_public_acls=True,
                              block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True)
    S3BucketOwnershipControls(scope, "ownership", bucket=bucket_id,
                              rule=S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"))
    S3BucketPolicy(scope, "policy", bucket=bucket_id, policy=policy_document([{
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket.arn, f"{bucket.arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }]))
    return versioning
