"""The tooling stack: the VPC, keys, storage, EKS cluster and DNS that Vault, Flux and the
GitLab runner run on (seed 001 §6)."""

from __future__ import annotations

from constructs import Construct

from vault_platform.cluster_roles import TOOLING
from vault_platform.config.model import EnvironmentConfig
from vault_platform.addons.vault_backup import SNAPSHOT_PREFIX
from vault_platform.constructs.backup_bucket import BackupBucket, BackupBucketProps, RestoreRole, RestoreRoleProps
from vault_platform.constructs.ci_oidc import CiOidc, CiOidcProps
from vault_platform.constructs.dns import PrivateZone
from vault_platform.constructs.ecr import EcrRepositories
from vault_platform.constructs.efs import EfsFileSystem, EfsFileSystemProps
from vault_platform.constructs.kms import KmsKey
from vault_platform.stacks.addon_roles import build_addons, output_roles
from vault_platform.stacks.base import (
    PlatformStack,
    cluster_foundation,
    plain_key,
)


class ToolingStack(PlatformStack):
    def __init__(self, scope: Construct, stack_id: str, env: EnvironmentConfig) -> None:
        super().__init__(scope, stack_id, env)
        config = env.tooling
        account = self.account
        self.cluster_name = env.cluster_name(config.cluster)
        name = self.cluster_name

        foundation = cluster_foundation(self, name, config.network, config.cluster)
        self.logs_key, self.ebs_key, self.secrets_key = foundation.logs_key, foundation.ebs_key, foundation.secrets_key
        self.vpc, self.cluster = foundation.vpc, foundation.cluster
        self.vault_unseal_key = plain_key(self, "vault-unseal-key", f"{name}/vault-unseal", "Vault awskms auto-unseal", account)

        self.zone = PrivateZone(self, "private-zone", name=config.private_zone_name, vpc_id=self.vpc.vpc_id)
        self.vault_hostname = f"vault.{config.private_zone_name}"

        self.ecr = EcrRepositories(self, "ecr", names=config.ecr_repositories, prefix=env.name)

        # Off: no key either. A KMS key is billed monthly and protected from destroy, so one
        # that encrypts nothing would cost money and outlive its reason.
        self.efs_key: KmsKey | None = None
        self.efs: EfsFileSystem | None = None
        if config.efs_enabled:
            self.efs_key = plain_key(self, "efs-key", f"{name}/efs", "EFS shared storage of the tooling cluster", account)
            self.efs = EfsFileSystem(self, "efs", EfsFileSystemProps(
                name=f"{name}-shared", vpc_id=self.vpc.vpc_id, subnet_ids=self.vpc.private_subnet_ids,
                kms_key_arn=self.efs_key.arn, client_security_group_id=self.cluster.cluster_security_group_id,
            ))

        self._vault_backup(env, account)

        self.addon_roles = build_addons(
            self, foundation, TOOLING, zone_arn=self.zone.zone.arn, pinned=env.tooling.cluster.addon_versions,
            vault_unseal_key_arn=self.vault_unseal_key.arn,
            ecr_repository_arns=tuple(self.ecr.arns),
            vault_backup_bucket_arn=self.vault_backup.arn, vault_backup_key_arn=self.vault_backup_key.arn,
        )
        # Only an environment that names its GitLab project ([ci]) trusts any pipeline.
        self.ci = None if env.ci is None else CiOidc(
            self, "ci-oidc", CiOidcProps(name=env.name, ci=env.ci, state=env.state, partition=account.partition))
        self._outputs()

    def _vault_backup(self, env: EnvironmentConfig, account) -> None:
        """Vault's snapshot bucket, its own key (never the unseal key: a snapshot is readable
        with that one) and the operators' restore role (docs/vault-dr.md)."""
        name, backup = self.cluster_name, env.tooling.vault_backup
        self.vault_backup_key = plain_key(self, "vault-backup-key", f"{name}/vault-backup", "Vault raft snapshots", account)
        self.vault_backup = BackupBucket(self, "vault-backup", BackupBucketProps(
            name_prefix=f"{env.name}-vault-backup-", kms_key_arn=self.vault_backup_key.arn,
            retention_days=backup.retention_days, name=backup.bucket))
        self.vault_restore = RestoreRole(self, "vault-restore", RestoreRoleProps(
            name=f"{name}-vault-restore", bucket_arn=self.vault_backup.arn, kms_key_arn=self.vault_backup_key.arn,
            prefix=SNAPSHOT_PREFIX, account_id=account.account_id, partition=account.partition))

    def _outputs(self) -> None:
        cluster = self.cluster
        self.output("cluster_name", cluster.cluster_name, "EKS name of the tooling cluster")
        self.output("cluster_endpoint", cluster.endpoint, "API endpoint of the tooling cluster")
        self.output("cluster_certificate_authority", cluster.certificate_authority_data, "Base64 CA of the tooling cluster API")
        self.output("cluster_security_group_id", cluster.cluster_security_group_id, "Security group of the tooling cluster's nodes and pods")
        self.output("oidc_provider_arn", cluster.oidc_provider_arn, "IAM OIDC provider of the tooling cluster (IRSA)")
        self.output("vpc_id", self.vpc.vpc_id, "Tooling VPC")
        self.output("vpc_cidr", self.vpc.cidr, "Tooling VPC range")
        self.output("private_subnet_ids", self.vpc.private_subnet_ids, "Private subnets, one per zone")
        self.output("public_subnet_ids", self.vpc.public_subnet_ids, "Public subnets (NAT, internet-facing load balancers)")
        self.output("private_zone_id", self.zone.zone_id, "Private hosted zone for Vault's name")
        self.output("private_zone_name", self.zone.name, "Name of that zone")
        self.output("vault_hostname", self.vault_hostname, "Vault's private DNS name (external-dns creates the record)")
        self.output("vault_kms_key_id", self.vault_unseal_key.key_id, "KMS key of Vault's auto-unseal")
        self.output("ebs_kms_key_arn", self.ebs_key.arn, "KMS key of the cluster's EBS volumes")
        output_roles(self, self.addon_roles)
        self.output("vault_backup_bucket", self.vault_backup.name, "S3 bucket of Vault's raft snapshots")
        self.output("vault_restore_role_arn", self.vault_restore.arn, "Role an operator assumes (MFA) to fetch a snapshot for a restore")
        if self.ci is not None:
            self.output("ci_plan_role_arn", self.ci.plan_role_arn, "Role GitLab CI plan jobs assume (read-only; the branches of [ci] plan_branches)")
            self.output("ci_deploy_role_arn", self.ci.deploy_role_arn, "Role the GitLab CI deploy job assumes (deploy branch only)")
        self.output("ecr_repository_urls", [repo.repository_url for repo in self.ecr.repositories.values()], "ECR repositories for CI images")
        if self.efs is not None:
            self.output("efs_file_system_id", self.efs.file_system_id, "Shared EFS file system")
            self.output("efs_access_point_id", self.efs.access_point_id, "EFS access point")
