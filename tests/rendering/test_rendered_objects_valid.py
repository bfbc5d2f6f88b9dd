"""Every object a cluster gets, ours and the charts', against the schema it is applied with:
custom resources against the CRDs the cluster's own pinned charts install (at the version
they serve), built-in kinds against Kubernetes' schemas for the cluster's version."""

from __future__ import annotations

import copy

import pytest

from vault_platform.rendering import validate

from tests.rendering.conftest import CLUSTER_IDS, CLUSTERS

# Several seconds of helm, kustomize and schema checks (docs/kubernetes-rendering.md "Cost"): the
# full tier only; one xdist worker, so each cluster renders once per session.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("rendering")]

# Defects this check found that another change fixes, keyed "<source>: <Kind> <name>: <path>",
# with who fixes them. test_pending_fixes_still_occur keeps the list honest: a fixed entry
# fails until it is removed here.
PENDING_FIXES: dict[str, str] = {}


_CHECKED: dict[tuple[str, str], dict[str, str]] = {}  # each cluster checked once per session


def _problems(render) -> dict[str, str]:
    key = (render.environment, render.cluster.key)
    if key not in _CHECKED:
        _CHECKED[key] = _check_all(render)
    return _CHECKED[key]


def _check_all(render) -> dict[str, str]:
    objects = render.all_objects()
    crds = validate.crd_versions(obj for _, obj in objects)
    version = render.cluster.kube_version.removeprefix("v")
    found = {}
    for source, obj in objects:
        for problem in validate.validate(obj, crds, version):
            path, _, message = problem.partition(": ")
            found[f"{source}: {obj['kind']} {obj['metadata'].get('name')}: {path}"] = message
    return found


@pytest.mark.parametrize(("environment", "key"), CLUSTERS, ids=CLUSTER_IDS)
def test_every_rendered_object_is_valid_for_its_kind(cluster_render, environment, key):
    problems = {where: message for where, message in _problems(cluster_render(environment, key)).items()
                if where not in PENDING_FIXES}
    assert not problems, "\n".join(f"{where}: {message}" for where, message in problems.items())


def test_pending_fixes_still_occur(cluster_render):
    found = set()
    for environment, key in CLUSTERS:
        found |= set(_problems(cluster_render(environment, key)))
    assert set(PENDING_FIXES) <= found, f"fixed, remove from PENDING_FIXES: {set(PENDING_FIXES) - found}"


def test_the_crds_come_from_the_pinned_charts(cluster_render):
    """Flux's and Istio's CRs are checked against the versions the pins install, not older models."""
    render = cluster_render("default", "application")
    crds = validate.crd_versions(obj for _, obj in render.all_objects())
    assert crds[("helm.toolkit.fluxcd.io", "HelmRelease")]["v2"].served
    assert crds[("security.istio.io", "AuthorizationPolicy")]["v1"].served
    assert ("external-secrets.io", "ClusterSecretStore") in crds
    assert ("cert-manager.io", "Certificate") not in crds  # cert-manager runs on the tooling cluster only


# Crafted defects: each check fails, and says why in one line.

def _check(render, obj) -> list[str]:
    crds = validate.crd_versions(o for _, o in render.all_objects())
    return validate.validate(obj, crds, render.cluster.kube_version.removeprefix("v"))


def _ours(render, kind, name):
    return copy.deepcopy(next(o for _, o in render.all_objects() if o["kind"] == kind and o["metadata"]["name"] == name))


def test_a_cr_of_a_kind_no_chart_serves_is_refused(cluster_render):
    render = cluster_render("default", "application")
    certificate = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "x"}, "spec": {}}
    assert _check(render, certificate) == [
        "no CRD installed in this cluster serves Certificate in group cert-manager.io (fix: a typo in kind/apiVersion, "
        "or the chart that installs the CRD is missing from this cluster)"]


def test_a_version_the_pinned_crd_does_not_serve_is_refused(cluster_render):
    render = cluster_render("default", "tooling")
    release = _ours(render, "HelmRelease", "vault")
    release["apiVersion"] = "helm.toolkit.fluxcd.io/v2beta1"
    [problem] = _check(render, release)
    assert "does not serve helm.toolkit.fluxcd.io/v2beta1" in problem and "helm.toolkit.fluxcd.io/v2" in problem


def test_a_field_the_crd_does_not_declare_is_refused(cluster_render):
    render = cluster_render("default", "application")
    policy = _ours(render, "PeerAuthentication", "default")
    policy["spec"]["mtlsMode"] = "STRICT"
    assert any(p.startswith("spec: Additional properties are not allowed ('mtlsMode'") for p in _check(render, policy))


def test_a_wrong_type_in_a_builtin_kind_is_refused(cluster_render):
    render = cluster_render("default", "application")
    deployment = _ours(render, "Deployment", "demo-client")
    deployment["spec"]["replicas"] = "two"
    assert "spec.replicas: 'two' is not of type 'integer', 'null'" in _check(render, deployment) \
        or any(p.startswith("spec.replicas:") for p in _check(render, deployment))
