"""Amazon VPC CNI (EKS-managed): pod networking. The CNI policy is its own IRSA role's, not
the node role's, so pods cannot use it through the node."""

from vault_platform.addons import BOTH, Addon, EksManaged, IrsaIdentity

ADDON = Addon(
    name="vpc-cni",
    install=EksManaged("vpc-cni"),
    cluster_roles=BOTH,
    irsa=IrsaIdentity("kube-system", "aws-node", role_suffix="vpc-cni"),
    managed_policies=("AmazonEKS_CNI_Policy",),
)
