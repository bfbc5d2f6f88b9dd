"""EFS CSI driver (EKS-managed), on the tooling cluster when it has the EFS file system.

Only the controller calls the EFS API (it creates an access point per volume); the nodes
mount over NFS without IAM, so their service account needs no role."""

from vault_platform.addons import TOOLING, Addon, EksManaged, IrsaIdentity

ADDON = Addon(
    name="aws-efs-csi-driver",
    install=EksManaged("aws-efs-csi-driver", needs_nodes=True),
    cluster_roles=(TOOLING,),
    irsa=IrsaIdentity("kube-system", "efs-csi-controller-sa", role_suffix="efs-csi"),
    managed_policies=("service-role/AmazonEFSCSIDriverPolicy",),
    feature="tooling.efs_enabled",
)
