"""Vault's raft snapshots: the vault-snapshot CronJob of the tooling cluster
(flux/infrastructure/vault-config/cronjob-snapshot.yaml, scripts/snapshot.py; docs/vault-dr.md).

Its role may only add objects under the snapshot prefix, encrypted with the bucket's own key:
no read, list or delete, so a stolen pod token can neither take the backups away nor read
them. Restoring reads with a separate role (constructs/backup_bucket.py's restore role), never
this one."""

from __future__ import annotations

from vault_platform.addons import TOOLING, Addon, FluxInstalled, IrsaIdentity, PermissionContext, RoleOutput
from vault_platform.constructs.policy import allow

# The key prefix snapshots are written under (BACKUP_PREFIX in cronjob-snapshot.yaml).
SNAPSHOT_PREFIX = "vault-raft"


def _permissions(context: PermissionContext):
    return (
        allow(["s3:PutObject"], [f"{context.vault_backup_bucket_arn}/{SNAPSHOT_PREFIX}/*"], sid="PutSnapshots"),
        # What S3 asks KMS for on the writer's behalf when it encrypts a new object with the
        # bucket's key (SSE-KMS with a bucket key): a data key. Never Decrypt: S3 needs that
        # only to read objects back, or for multipart uploads, which this Job does not make.
        allow(["kms:GenerateDataKey"], [context.vault_backup_key_arn], sid="EncryptSnapshots"),
    )


ADDON = Addon(
    name="vault-backup",
    install=FluxInstalled("flux/infrastructure/vault-config"),
    cluster_roles=(TOOLING,),
    irsa=IrsaIdentity("vault", "vault-backup", role_suffix="vault-backup"),
    permissions=_permissions,
    role_arn_var="VAULT_BACKUP_ROLE_ARN",
    role_arn_description="IRSA role of Vault's snapshot CronJob (vault/vault-backup): s3:PutObject of snapshots only.",
    role_output=RoleOutput("vault_backup_role_arn", note="(snapshot writer)"),
)
