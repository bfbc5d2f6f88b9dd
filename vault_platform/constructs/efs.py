"""Encrypted EFS for shared tooling storage: mount targets in the private subnets, reachable
only from the cluster's security group, TLS enforced, backups on, protected from destroy."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.efs_access_point import (
    EfsAccessPoint,
    EfsAccessPointPosixUser,
    EfsAccessPointRootDirectory,
    EfsAccessPointRootDirectoryCreationInfo,
)
from cdktf_cdktf_provider_aws.efs_backup_policy import EfsBackupPolicy, EfsBackupPolicyBackupPolicy
from cdktf_cdktf_provider_aws.efs_file_system import EfsFileSystem as EfsFileSystemResource
from cdktf_cdktf_provider_aws.efs_file_system import EfsFileSystemLifecyclePolicy
from cdktf_cdktf_provider_aws.efs_file_system_policy import EfsFileSystemPolicy
from cdktf_cdktf_provider_aws.efs_mount_target import EfsMountTarget
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from vault_platform.constructs.policy import policy_document
from vault_platform.constructs.protection import protected_lifecycle


@dataclass(frozen=True)
class EfsFileSystemProps:
    """client_security_group_id: the only group allowed NFS (the cluster's nodes and pods).
    access_point_uid/gid: the POSIX identity every client is mapped to at the access point."""

    name: str
    vpc_id: str
    subnet_ids: list[str]
    kms_key_arn: str
    client_security_group_id: str
    access_point_path: str = "/shared"
    access_point_uid: int = 1000
    access_point_gid: int = 1000


class EfsFileSystem(Construct):
    def __init__(self, scope: Construct, id: str, props: EfsFileSystemProps) -> None:
        super().__init__(scope, id)
        self.file_system = EfsFileSystemResource(
            self, "file-system", creation_token=props.name, encrypted=True, kms_key_id=props.kms_key_arn,
            performance_mode="generalPurpose", throughput_mode="elastic",
            lifecycle_policy=[EfsFileSystemLifecyclePolicy(transition_to_ia="AFTER_30_DAYS")],
            tags={"Name": props.name},
            lifecycle=protected_lifecycle(self),
        )
        self.file_system_id = self.file_system.id
        EfsBackupPolicy(self, "backups", file_system_id=self.file_system_id,
                        backup_policy=EfsBackupPolicyBackupPolicy(status="ENABLED"))
        # Any file system policy replaces EFS's default one, which is what lets clients that
        # mount without IAM (the EFS CSI driver's nodes) in at all: a policy of only the Deny
        # would refuse them every mount. So the policy grants mount and write through a mount
        # target (which only the client security group reaches), not root: the access points
        # fix each client's POSIX identity.
        EfsFileSystemPolicy(
            self, "require-tls", file_system_id=self.file_system_id,
            policy=policy_document([
                {
                    "Sid": "DenyUnencryptedTransport", "Effect": "Deny", "Principal": {"AWS": "*"},
                    "Action": "*", "Resource": self.file_system.arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
                {
                    "Sid": "MountThroughMountTargets", "Effect": "Allow", "Principal": {"AWS": "*"},
                    "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
                    "Resource": self.file_system.arn,
                    "Condition": {"Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}},
                },
            ]),
        )

        self.security_group = SecurityGroup(
            self, "mount-target-security-group", name=f"{props.name}-efs", vpc_id=props.vpc_id,
            description="NFS to the EFS mount targets from the cluster only", tags={"Name": f"{props.name}-efs"},
        )
        security_group_id = self.security_group.id
        VpcSecurityGroupIngressRule(
            self, "nfs-from-cluster", security_group_id=security_group_id, ip_protocol="tcp",
            from_port=2049, to_port=2049, referenced_security_group_id=props.client_security_group_id,
            description="NFS from the cluster security group",
        )
        # Ids keep the subnet's position: subnet_ids are Vpc.private_subnet_ids, one per zone
        # in zone order, so the position is the zone (see Vpc), which only grows at the end.
        for index, subnet_id in enumerate(props.subnet_ids):
            EfsMountTarget(self, f"mount-target-{index}", file_system_id=self.file_system_id, subnet_id=subnet_id,
                           security_groups=[security_group_id])

        self.access_point = EfsAccessPoint(
            self, "access-point", file_system_id=self.file_system_id,
            posix_user=EfsAccessPointPosixUser(uid=props.access_point_uid, gid=props.access_point_gid),
            root_directory=EfsAccessPointRootDirectory(
                path=props.access_point_path,
                creation_info=EfsAccessPointRootDirectoryCreationInfo(
                    owner_uid=props.access_point_uid, owner_gid=props.access_point_gid, permissions="0750",
                ),
            ),
            tags={"Name": f"{props.name}-shared"},
        )
        self.access_point_id = self.access_point.id
