"""EBS CSI driver (EKS-managed): persistent volumes on EBS, encrypted with the cluster's EBS
key (the gp3 StorageClasses of stacks/platform.py)."""

from __future__ import annotations

from vault_platform.addons import BOTH, Addon, EksManaged, IrsaIdentity, PermissionContext
from vault_platform.constructs.policy import allow


def _permissions(context: PermissionContext):
    key = [context.ebs_kms_key_arn]
    return (
        # Encrypted volumes with the cluster's EBS key: the driver creates grants for EC2 to
        # use the key on its behalf, and nothing else.
        allow(["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], key,
              Condition={"Bool": {"kms:GrantIsForAWSResource": "true"}}),
        allow(["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"], key),
    )


ADDON = Addon(
    name="aws-ebs-csi-driver",
    install=EksManaged("aws-ebs-csi-driver", needs_nodes=True),  # the controller is a Deployment
    cluster_roles=BOTH,
    irsa=IrsaIdentity("kube-system", "ebs-csi-controller-sa", role_suffix="ebs-csi"),
    permissions=_permissions,
    managed_policies=("service-role/AmazonEBSCSIDriverPolicy",),
)
