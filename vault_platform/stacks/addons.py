"""The Helm add-ons every cluster gets from its platform stack: default props, pinned.

One module-level ``HelmAddonProps`` per add-on (the cdk-eks-blueprints pattern). A stack
takes a default and merges in what only it knows (``with_values``: cluster name, VPC, IRSA
role); adding an add-on never touches the others. Versions are exact and move only by an
edit here, reviewed like any other change (the snapshot shows it).

Everything after these charts (Vault, Istio, cert-manager, external-dns, ESO, ...) is
installed by Flux from flux/, not by Terraform.
"""

from __future__ import annotations

from types import MappingProxyType

from vault_platform.constructs.helm_addon import HelmAddonProps

EKS_CHARTS = "https://aws.github.io/eks-charts"
FLUXCD_COMMUNITY_CHARTS = "https://fluxcd-community.github.io/helm-charts"
FLUX_NAMESPACE = "flux-system"

LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT = "aws-load-balancer-controller"

# Chart 1.13.0 = controller v2.13.0, the version its IAM policy
# (stacks/load_balancer_controller_policy.py) was written for.
AWS_LOAD_BALANCER_CONTROLLER = HelmAddonProps(
    name="aws-load-balancer-controller",
    chart="aws-load-balancer-controller",
    repository=EKS_CHARTS,
    version="1.13.0",
    namespace="kube-system",
    description="AWS load balancer controller: NLBs and ALBs for Services and Ingresses (Vault's NLB)",
    values=MappingProxyType({
        "replicaCount": 2,
        "serviceAccount": {"create": True, "name": LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT},
    }),
)

# flux2 2.18.0 and flux2-sync 1.14.2 both carry Flux 2.8.1: keep them moving together.
FLUX = HelmAddonProps(
    name="flux",
    chart="flux2",
    repository=FLUXCD_COMMUNITY_CHARTS,
    version="2.18.0",
    namespace=FLUX_NAMESPACE,
    description="Flux controllers (source, kustomize, helm, notification) and their CRDs",
    # The load balancer controller's webhook intercepts every new Service; a Service created
    # while its pods are not ready is refused, so Flux's Services come after it.
    depends_on=("aws-load-balancer-controller",),
)

# The GitRepository "platform" and the cluster's root Kustomization, as a chart: a chart's
# custom resources are only rendered at plan time, whereas kubernetes_manifest would need
# Flux's CRDs on the cluster already when the plan is made (it is not, on a fresh cluster).
FLUX_SYNC = HelmAddonProps(
    name="flux-sync",
    release="platform",  # the chart names the GitRepository and Kustomization after the release
    chart="flux2-sync",
    repository=FLUXCD_COMMUNITY_CHARTS,
    version="1.14.2",
    namespace=FLUX_NAMESPACE,
    description="GitRepository 'platform' and the cluster's root Kustomization",
    depends_on=("flux",),  # its objects are Flux custom resources: the CRDs come with flux2
)

# Install order of a platform stack; each add-on after the ones it depends on.
CLUSTER_ADDONS = (AWS_LOAD_BALANCER_CONTROLLER, FLUX, FLUX_SYNC)
