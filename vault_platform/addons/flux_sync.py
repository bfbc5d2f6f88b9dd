"""The GitRepository "platform" and the cluster's root Kustomization, as a chart: a chart's
custom resources are only rendered at plan time, whereas kubernetes_manifest would need
Flux's CRDs on the cluster already when the plan is made (it is not, on a fresh cluster)."""

from __future__ import annotations

from vault_platform.addons import BOTH, Addon, ChartContext
from vault_platform.addons.flux import FLUX_NAMESPACE, FLUXCD_COMMUNITY_CHARTS, NAMESPACE_RESOURCE
from vault_platform.constructs.helm_chart import HelmAddonProps

# The chart names the GitRepository and the root Kustomization after the release: every
# Kustomization under flux/clusters/ reads its source from this GitRepository.
GIT_REPOSITORY = "platform"
# The platform stack's resources the root Kustomization reads: its substitution source and,
# over ssh, the deploy key (absent when the operator provides the Secret).
PLATFORM_VARS_RESOURCE = "platform-vars"
GIT_SECRET_RESOURCE = "flux-git-deploy-key"


def _values(cluster: ChartContext) -> dict[str, object]:
    # Imported here: the platform-vars contract derives its role keys from this registry.
    from vault_platform.gitops.platform_vars import CONFIGMAP_NAME

    gitops = cluster.gitops
    repository_spec: dict[str, object] = {"url": gitops.url, "ref": {"branch": gitops.branch}, "interval": gitops.interval}
    if gitops.secret_name:
        repository_spec["secretRef"] = {"name": gitops.secret_name}
    return {
        "gitRepository": {"spec": repository_spec},
        "kustomization": {"spec": {
            "path": cluster.flux_path,
            "interval": gitops.interval,
            "prune": True,
            "postBuild": {"substituteFrom": [{"kind": "ConfigMap", "name": CONFIGMAP_NAME}]},
        }},
    }


ADDON = Addon(
    name="flux-sync",
    install=HelmAddonProps(
        name="flux-sync",
        release=GIT_REPOSITORY,
        chart="flux2-sync",
        repository=FLUXCD_COMMUNITY_CHARTS,
        version="1.14.2",
        namespace=FLUX_NAMESPACE,
        description="GitRepository 'platform' and the cluster's root Kustomization",
        depends_on=("flux",),  # its objects are Flux custom resources: the CRDs come with flux2
        needs=(NAMESPACE_RESOURCE, PLATFORM_VARS_RESOURCE, GIT_SECRET_RESOURCE),
    ),
    cluster_roles=BOTH,
    chart_values=_values,
)
