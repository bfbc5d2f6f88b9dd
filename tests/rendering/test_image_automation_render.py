"""Flux image automation as each cluster gets it: the image controllers and their CRDs come
from the pinned flux2 chart in the tooling cluster only, the reflector's account carries its
IRSA role, and the custom resources validate against the CRDs that chart serves (after Flux's
substitution, with the platform vars' sample values)."""

from __future__ import annotations

import copy

import pytest

from vault_platform.addons.flux import FLUX_NAMESPACE
from vault_platform.addons.flux_image_automation import IDENTITY
from vault_platform.config.load import load_environment
from vault_platform.rendering import validate
from tests.rendering.conftest import CLUSTERS

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("rendering")]

IMAGE_GROUP = "image.toolkit.fluxcd.io"
IMAGE_KINDS = ("ImageRepository", "ImagePolicy", "ImageUpdateAutomation")
CONTROLLERS = ("image-reflector-controller", "image-automation-controller")


def _crds(render):
    return validate.crd_versions(obj for _, obj in render.all_objects())


def _image_objects(render) -> list[dict]:
    return [obj for source, obj in render.all_objects() if source == "./flux/infrastructure/image-automation"]


def test_the_tooling_cluster_runs_the_image_controllers_with_the_reflector_role(cluster_render):
    render = cluster_render("default", "tooling")
    objects = [obj for _, obj in render.all_objects()]
    deployments = {obj["metadata"]["name"] for obj in objects if obj["kind"] == "Deployment"}
    assert set(CONTROLLERS) <= deployments
    # The chart's objects carry no namespace: Helm installs them in the release's, flux-system.
    (account,) = [obj for obj in objects if obj["kind"] == "ServiceAccount"
                  and (obj["metadata"].get("namespace", FLUX_NAMESPACE), obj["metadata"]["name"])
                  == (IDENTITY.namespace, IDENTITY.service_account)]
    arn = account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert arn.startswith("arn:aws:iam::") and arn.endswith(f"-tooling-{IDENTITY.role_suffix}"), arn


def test_application_clusters_have_no_image_controllers_nor_crds(cluster_render):
    render = cluster_render("default", "application")
    objects = [obj for _, obj in render.all_objects()]
    assert not [obj for obj in objects if obj["kind"] == "Deployment" and obj["metadata"]["name"] in CONTROLLERS]
    assert not [group for group, _ in _crds(render) if group == IMAGE_GROUP]
    assert not [obj for obj in objects if obj.get("apiVersion", "").startswith(IMAGE_GROUP)]


def test_the_image_resources_validate_against_the_pinned_crds(cluster_render):
    render = cluster_render("default", "tooling")
    crds = _crds(render)
    assert all(crds[(IMAGE_GROUP, kind)]["v1"].served for kind in IMAGE_KINDS)
    found = {obj["kind"]: obj for obj in _image_objects(render) if obj["apiVersion"] == f"{IMAGE_GROUP}/v1"}
    assert set(found) == set(IMAGE_KINDS)
    version = render.cluster.kube_version.removeprefix("v")
    problems = {kind: validate.validate(obj, crds, version) for kind, obj in found.items()}
    assert not any(problems.values()), problems
    # Substituted: the repository is the tooling account's ECR, the branch the deploy branch.
    assert found["ImageRepository"]["spec"]["image"].endswith(f".amazonaws.com/{load_environment('default').name}/demo-app")
    assert found["ImageUpdateAutomation"]["spec"]["git"]["push"]["options"]["merge_request.target"] == "main"


@pytest.mark.parametrize(("kind", "path", "value", "says"), [
    ("ImageRepository", ("spec", "provider"), "ecr", "spec.provider: 'ecr' is not one of"),
    ("ImagePolicy", ("spec", "policy", "semver"), {}, "'range' is a required property"),
    ("ImageUpdateAutomation", ("spec", "update", "strategy"), "Regex", "spec.update.strategy: 'Regex' is not one of"),
])
def test_a_crafted_defect_in_an_image_resource_is_refused(cluster_render, kind, path, value, says):
    render = cluster_render("default", "tooling")
    obj = copy.deepcopy(next(o for o in _image_objects(render) if o["kind"] == kind))
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    found = validate.validate(obj, _crds(render), render.cluster.kube_version.removeprefix("v"))
    assert any(says in problem for problem in found), found


@pytest.mark.parametrize("environment", sorted({env for env, key in CLUSTERS}))
def test_the_pods_run_the_repository_the_automation_scans(cluster_render, environment):
    """After kustomize's images transformer and Flux's substitution, both demo Deployments in
    every application cluster run <registry>/<environment>/demo-app:<tag>, and that repository
    is the one the tooling cluster's ImageRepository scans: the tag the automation commits is
    the tag the pods pull."""
    env = load_environment(environment)
    (scanned,) = [obj["spec"]["image"] for obj in _image_objects(cluster_render(environment, "tooling"))
                  if obj["kind"] == "ImageRepository"]
    assert scanned.endswith(f".dkr.ecr.{env.region}.amazonaws.com/{env.name}/demo-app")
    for app in env.application_clusters:
        demo = [obj for source, obj in cluster_render(environment, app.cluster.name).all_objects()
                if source == "./flux/apps/demo" and obj["kind"] == "Deployment"]
        images = {obj["metadata"]["name"]: obj["spec"]["template"]["spec"]["containers"][0]["image"] for obj in demo}
        assert images == {"demo-app": f"{scanned}:v1.0.0", "demo-client": f"{scanned}:v1.0.0"}
