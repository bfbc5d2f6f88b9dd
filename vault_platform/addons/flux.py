"""Flux's controllers (source, kustomize, helm, notification) and their CRDs, installed by the
platform stack; from then on Flux installs everything under flux/. The image controllers run
only where the image automation add-on does (flux_image_automation.py: the tooling cluster)."""

from __future__ import annotations

from vault_platform.addons import BOTH, Addon, ChartContext
from vault_platform.constructs.helm_chart import HelmAddonProps

FLUXCD_COMMUNITY_CHARTS = "https://fluxcd-community.github.io/helm-charts"
FLUX_NAMESPACE = "flux-system"
# The platform stack's resource that creates FLUX_NAMESPACE (HelmAddonProps.needs names it).
NAMESPACE_RESOURCE = "flux-system-namespace"

ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"


def _values(cluster: ChartContext) -> dict[str, object]:
    # Imported here: that add-on imports this module's namespace.
    from vault_platform.addons import flux_image_automation as image

    if not image.ADDON.runs_on(cluster.cluster_role):
        # The chart creates both image controllers by default: off, no controller, no CRDs.
        return {key: {"create": False} for key in image.CONTROLLER_KEYS}
    return {image.CHART_VALUES_KEY: {"serviceAccount": {"annotations": {
        ROLE_ANNOTATION: cluster.role_arns[image.ADDON.name]}}}}


ADDON = Addon(
    name="flux",
    # flux2 2.18.0 and flux2-sync 1.14.2 (flux_sync.py) both carry Flux 2.8.1: keep them moving together.
    install=HelmAddonProps(
        name="flux",
        chart="flux2",
        repository=FLUXCD_COMMUNITY_CHARTS,
        version="2.18.0",
        namespace=FLUX_NAMESPACE,
        description="Flux controllers (source, kustomize, helm, notification) and their CRDs",
        # The load balancer controller's webhook intercepts every new Service; a Service created
        # while its pods are not ready is refused, so Flux's Services come after it.
        depends_on=("aws-load-balancer-controller",),
        needs=(NAMESPACE_RESOURCE,),
    ),
    cluster_roles=BOTH,
    chart_values=_values,
)
