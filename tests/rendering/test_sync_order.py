"""Flux's first sync converges in order, in every cluster of every environment
(vault_platform/rendering/sync_order.py says what "before" and "ready" mean)."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from vault_platform.rendering.flux_tree import FluxUnit
from vault_platform.rendering.sync_order import ACCEPTED_NOT_WAITED as NOT_WAITED, SyncModel

from tests.rendering.conftest import CLUSTER_IDS, CLUSTERS

# Several seconds of helm, kustomize and schema checks (docs/kubernetes-rendering.md "Cost"): the
# full tier only; one xdist worker, so each cluster renders once per session.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("rendering")]



@pytest.mark.parametrize(("environment", "key"), CLUSTERS, ids=CLUSTER_IDS)
def test_the_first_sync_converges_in_order(cluster_render, environment, key):
    model = SyncModel(cluster_render(environment, key))
    assert not model.problems(), "\n".join(model.problems())
    unexplained = [edge for edge in model.not_waited() if edge not in NOT_WAITED]
    assert not unexplained, "\n".join(unexplained) + "\nfix: a healthCheckExprs for the kind, or a reason in NOT_WAITED"


def test_every_not_waited_reason_is_still_needed(cluster_render):
    found = set()
    for environment, key in CLUSTERS:
        found |= set(SyncModel(cluster_render(environment, key)).not_waited())
    assert set(NOT_WAITED) <= found, set(NOT_WAITED) - found


# Crafted defects: the tree changed one way each, and the check names it.

def _changed(render, unit_name: str, change) -> SyncModel:
    units = []
    for unit in render.units:
        if unit.name == unit_name:
            kustomization, objects = copy.deepcopy(unit.kustomization), list(copy.deepcopy(unit.objects))
            change(kustomization, objects)
            unit = FluxUnit(kustomization, tuple(objects))
        units.append(unit)
    releases = tuple(dataclasses.replace(r, unit=r.unit) for r in render.releases)
    return SyncModel(dataclasses.replace(render, units=tuple(units), releases=releases))


def _depends_on(*names):
    def change(kustomization, _objects):
        kustomization["spec"]["dependsOn"] = [{"name": name} for name in names]
    return change


def test_a_cr_before_its_crd_is_found(cluster_render):
    model = _changed(cluster_render("default", "application"), "istio-mesh", _depends_on())
    assert any(p.startswith("Kustomization istio-mesh: PeerAuthentication default may be applied before its CRD "
                            "(Kustomization istio / HelmRelease istio-base)") for p in model.problems())


def test_a_dependency_without_wait_does_not_wait_for_the_crds(cluster_render):
    def no_wait(kustomization, _objects):
        kustomization["spec"]["wait"] = False
    model = _changed(cluster_render("default", "application"), "istio", no_wait)
    assert any("PeerAuthentication default may be applied before its CRD" in p for p in model.problems())


def test_a_namespace_nothing_creates_is_found(cluster_render):
    def drop_namespace(_kustomization, objects):
        objects[:] = [o for o in objects if o["kind"] != "Namespace"]
    problems = _changed(cluster_render("default", "application"), "demo", drop_namespace).problems()
    assert any(p.startswith("Kustomization demo: Deployment demo-app needs namespace demo, which nothing creates")
               for p in problems)


def test_pods_created_before_their_webhook_is_ready_are_found(cluster_render):
    problems = _changed(cluster_render("default", "application"), "demo", _depends_on("istio-mesh")).problems()
    assert any(p.startswith("Kustomization demo: Deployment demo-app (its pods) is admitted by webhook vault.hashicorp.com")
               for p in problems)


def test_a_cycle_is_found(cluster_render):
    problems = _changed(cluster_render("default", "tooling"), "sources", _depends_on("gitlab-runner")).problems()
    assert any(p.startswith("Kustomization dependsOn cycle: ") and "sources" in p for p in problems)
