"""kube-proxy (EKS-managed): Service routing on every node. No AWS access."""

from vault_platform.addons import BOTH, Addon, EksManaged

ADDON = Addon(name="kube-proxy", install=EksManaged("kube-proxy"), cluster_roles=BOTH)
