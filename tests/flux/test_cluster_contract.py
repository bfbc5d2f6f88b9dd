"""The Flux Kustomizations of each cluster: paths, order, and the platform-vars contract."""

import pytest

import flux_checks
import requested_vars
from vault_platform.addons.flux_sync import GIT_REPOSITORY
from vault_platform.gitops import platform_vars

CLUSTERS = platform_vars.BOTH


def allowed(cluster):
    return set(platform_vars.keys_for(cluster)) | requested_vars.keys_for(cluster)


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_every_kustomization_points_at_a_built_directory_of_this_repo(clusters, rendered, cluster):
    for ks, path in clusters[cluster]:
        assert ks["spec"]["sourceRef"] == {"kind": "GitRepository", "name": GIT_REPOSITORY}, ks["metadata"]
        assert path in rendered, f"flux/clusters/{cluster}: {ks['metadata']['name']} points at {path}, which has no kustomization.yaml"


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_depends_on_names_kustomizations_of_the_same_cluster(clusters, cluster):
    names = {ks["metadata"]["name"] for ks, _ in clusters[cluster]}
    for ks, _ in clusters[cluster]:
        for dep in ks["spec"].get("dependsOn", []):
            assert dep["name"] in names, f"flux/clusters/{cluster}/{ks['metadata']['name']}.yaml: dependsOn {dep['name']} does not exist in {cluster}"


@pytest.mark.parametrize("cluster", CLUSTERS)
def test_variables_are_platform_vars_of_the_cluster(clusters, rendered, cluster):
    problems = []
    for ks, path in clusters[cluster]:
        objects = rendered.objects(path)
        inline = set(((ks["spec"].get("postBuild") or {}).get("substitute") or {}))  # e.g. quote
        problems += flux_checks.check_variables(path, objects, allowed(cluster) | inline, cluster)
        problems += flux_checks.check_substitute_from(
            f"flux/clusters/{cluster}/{ks['metadata']['name']}.yaml", ks, objects)
    assert not problems, "\n".join(problems)


def test_requested_vars_are_not_yet_in_the_contract():
    """Once Terraform's side adds a requested key, drop it from requested_vars.py."""
    for key in requested_vars.REQUESTED:
        assert key not in {v.key for v in platform_vars.PLATFORM_VARS}, (
            f"{key} is now in vault_platform/gitops/platform_vars.py: remove it from tests/flux/requested_vars.py")
