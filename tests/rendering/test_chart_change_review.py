"""A chart pin or values change is reviewable: the plan summary lists the rendered objects it
adds, removes and changes (vault_platform/rendering/diff.py), here on a real values change
rendered by Helm. No second version of any pinned chart is in the charts directory, so a pin
bump itself is shown on synthetic renders (test_diff.py)."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from vault_platform.ops.plan_summary import render_markdown
from vault_platform.rendering import diff
from vault_platform.rendering.releases import ClusterRender

from tests.rendering.conftest import CLUSTERS  # noqa: F401 (the session's renders)

# Several seconds of helm, kustomize and schema checks (docs/kubernetes-rendering.md "Cost"): the
# full tier only; one xdist worker, so each cluster renders once per session.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("rendering")]


def _with_values(render: ClusterRender, release_name: str, change) -> ClusterRender:
    releases, rendered = [], dict(render.rendered)
    for release in render.releases:
        if release.name == release_name:
            values = copy.deepcopy(release.values)
            change(values)
            release = dataclasses.replace(release, values=values)
            rendered[release.name] = release.render(render.cluster)
        releases.append(release)
    return dataclasses.replace(render, releases=tuple(releases), rendered=rendered)


def test_a_values_change_lists_the_objects_helm_upgrade_changes(cluster_render):
    before = cluster_render("default", "application")

    def three_istiods(values):
        values["pilot"]["autoscaleMin"] = 3

    after = _with_values(before, "istiod-1-30", three_istiods)
    lines = diff.changes(diff.snapshot([before]), diff.snapshot([after]))
    assert lines == [
        # istiod keeps its values in a ConfigMap, so a values change shows there too
        "**changed** `application istiod-1-30 ConfigMap istio-system/values-1-30` (istiod-1-30 istiod@1.30.3): "
        "`data.merged-values`, `data.original-values`",
        "**changed** `application istiod-1-30 HorizontalPodAutoscaler istio-system/istiod-1-30` "
        "(istiod-1-30 istiod@1.30.3): `spec.minReplicas`"]
    markdown = render_markdown([], title="T", object_changes=lines)
    assert "## Kubernetes objects (charts rendered by Helm v4, `make render`)" in markdown
    assert "spec.minReplicas" in markdown


def test_a_values_change_that_adds_objects_lists_them(cluster_render):
    before = cluster_render("default", "tooling")

    def with_ui_service(values):
        values["ui"]["enabled"] = True

    lines = diff.changes(diff.snapshot([before]), diff.snapshot([_with_values(before, "vault", with_ui_service)]))
    assert lines == ["**added** `tooling vault Service vault/vault-ui` (vault vault@0.30.0)"]


def test_no_change_says_so(cluster_render):
    render = cluster_render("default", "tooling")
    assert diff.changes(diff.snapshot([render]), diff.snapshot([render])) == []
    assert "No change to any rendered object." in render_markdown([], title="T", object_changes=[])
