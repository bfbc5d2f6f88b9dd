"""The bucket Vault's raft snapshots go to (docs/vault-dr.md).

On top of what every data bucket has (constructs/private_bucket.py: versioning, SSE-KMS,
public access blocked, TLS only), it keeps each snapshot unchangeable for a while and then
lets it go:
- Object Lock, which S3 allows only on a bucket created with it (and which needs versioning),
  with a default retention in GOVERNANCE mode: no one deletes or overwrites a snapshot version
  before it ends, unless holding s3:BypassGovernanceRetention, which no role here has. (COMPLIANCE
  mode would bind the account's root user too, and a mistaken retention could not be shortened.)
- lifecycle: a snapshot expires when its retention ends, its version is removed a day later,
  delete markers left by expiry are cleaned up, and an upload abandoned half-way is aborted.
Its KMS key is its own: a snapshot is readable with Vault's unseal key, so the two must never
be the same (whoever holds both holds every secret).
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
    S3BucketLifecycleConfigurationRuleExpiration,
    S3BucketLifecycleConfigurationRuleFilter,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
)
from cdktf_cdktf_provider_aws.s3_bucket_object_lock_configuration import (
    S3BucketObjectLockConfigurationA,
    S3BucketObjectLockConfigurationRuleA,
    S3BucketObjectLockConfigurationRuleDefaultRetentionA,
)
from constructs import Construct

from vault_platform.constructs.policy import allow, policy_document
from vault_platform.constructs.private_bucket import harden_bucket
from vault_platform.constructs.protection import protected_lifecycle

# Policy-gate findings accepted for the snapshot bucket (vault_platform/ops/policy_gate.py).
CHECKOV_SUPPRESSIONS = {
    ("CKV_AWS_144", "aws_s3_bucket", "snapshots"):
        "a copy in another region could not be restored there: a snapshot opens only with Vault's unseal key, a "
        "single-region KMS key of this region; cross-region recovery needs a multi-region unseal key first (docs/vault-dr.md)",
    ("CKV_AWS_18", "aws_s3_bucket", "snapshots"):
        "server access logs need a log bucket this platform does not have yet; the one writer is an IRSA role and "
        "readers assume the restore role with MFA, both visible in CloudTrail's AssumeRole events",
    ("CKV2_AWS_62", "aws_s3_bucket", "snapshots"):
        "nothing consumes bucket events: a missing snapshot is alerted on from Kubernetes (the CronJob's failed Job, "
        "kube_job_status_failed), where the snapshot job reports it",
    ("CKV_AWS_61", "aws_iam_role", "restore-role"):
        "the restore role is for this account's operators: its trust names the account (whose IAM policies then decide "
        "who may assume it) and requires MFA; no service and no other account is trusted",
}

LOCK_MODE = "GOVERNANCE"
# Days after which abandoned multipart uploads are aborted and expired versions removed.
CLEANUP_DAYS = 1


@dataclass(frozen=True)
class BackupBucketProps:
    """name: the bucket's name, or empty for a Terraform-made unique one starting name_prefix
    (S3 allows a prefix of at most 37 characters: the environment name is at most 20).
    retention_days: Object Lock's default retention, then expiry ([tooling.vault_backup])."""

    name_prefix: str
    kms_key_arn: str
    retention_days: int
    name: str = ""


class BackupBucket(Construct):
    def __init__(self, scope: Construct, id: str, props: BackupBucketProps) -> None:
        super().__init__(scope, id)
        naming = {"bucket": props.name} if props.name else {"bucket_prefix": props.name_prefix}
        self.bucket = S3Bucket(self, "snapshots", **naming, object_lock_enabled=True, force_destroy=False,
                               lifecycle=protected_lifecycle(self))
        versioning = harden_bucket(self, self.bucket, props.kms_key_arn)
        S3BucketObjectLockConfigurationA(self, "object-lock", bucket=self.bucket.id, rule=S3BucketObjectLockConfigurationRuleA(
            default_retention=S3BucketObjectLockConfigurationRuleDefaultRetentionA(mode=LOCK_MODE, days=props.retention_days)))
        everything = [S3BucketLifecycleConfigurationRuleFilter(prefix="")]
        S3BucketLifecycleConfiguration(self, "lifecycle", bucket=self.bucket.id, depends_on=[versioning], rule=[
            S3BucketLifecycleConfigurationRule(
                id="expire-snapshots", status="Enabled", filter=everything,
                expiration=[S3BucketLifecycleConfigurationRuleExpiration(days=props.retention_days)],
                noncurrent_version_expiration=[S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(noncurrent_days=CLEANUP_DAYS)],
                abort_incomplete_multipart_upload=[S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(
                    days_after_initiation=CLEANUP_DAYS)]),
            # S3 refuses expired_object_delete_marker in a rule that also expires by days.
            S3BucketLifecycleConfigurationRule(
                id="remove-expired-delete-markers", status="Enabled", filter=everything,
                expiration=[S3BucketLifecycleConfigurationRuleExpiration(expired_object_delete_marker=True)]),
        ])
        self.name = self.bucket.id
        self.arn = self.bucket.arn


@dataclass(frozen=True)
class RestoreRoleProps:
    """name: the IAM role's name. bucket_arn / kms_key_arn: the BackupBucket and its key.
    prefix: the snapshots' key prefix. account_id / partition: whose users may assume it."""

    name: str
    bucket_arn: str
    kms_key_arn: str
    prefix: str
    account_id: str
    partition: str


# An operator holds it for one restore: an hour is enough to fetch a snapshot.
RESTORE_SESSION_SECONDS = 3600


class RestoreRole(Construct):
    """What an operator assumes to fetch a snapshot for a restore (docs/vault-dr.md): list the
    snapshots, read them and decrypt them; never write or delete. Users of this account may
    assume it only with MFA (their own IAM policies must also allow sts:AssumeRole on it).
    The snapshot CronJob has its own role (addons/vault_backup.py) and never this one."""

    def __init__(self, scope: Construct, id: str, props: RestoreRoleProps) -> None:
        super().__init__(scope, id)
        trust = policy_document([{
            "Sid": "OperatorsWithMfa",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{props.partition}:iam::{props.account_id}:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        }])
        self.role = IamRole(self, "restore-role", name=props.name, assume_role_policy=trust, max_session_duration=RESTORE_SESSION_SECONDS,
                            description="Fetch Vault raft snapshots for a restore (read only)")
        IamRolePolicy(self, "read-snapshots", name="read-snapshots", role=self.role.id, policy=policy_document([
            allow(["s3:ListBucket"], [props.bucket_arn], sid="ListSnapshots",
                  Condition={"StringLike": {"s3:prefix": [f"{props.prefix}/*"]}}),
            allow(["s3:GetObject", "s3:GetObjectVersion"], [f"{props.bucket_arn}/{props.prefix}/*"], sid="ReadSnapshots"),
            allow(["kms:Decrypt"], [props.kms_key_arn], sid="DecryptSnapshots"),
        ]))
        self.arn = self.role.arn
