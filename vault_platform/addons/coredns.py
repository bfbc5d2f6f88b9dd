"""CoreDNS (EKS-managed): cluster DNS. A Deployment: it waits for the node groups."""

from vault_platform.addons import BOTH, Addon, EksManaged

ADDON = Addon(name="coredns", install=EksManaged("coredns", needs_nodes=True), cluster_roles=BOTH)
