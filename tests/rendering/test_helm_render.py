"""Every chart release of every cluster renders with real Helm v4, without an unexplained warning."""

from __future__ import annotations

import dataclasses

import pytest

from vault_platform.errors import ConfigError
from vault_platform.rendering import charts, helm
from vault_platform.rendering.releases import ChartRelease

from tests.rendering.conftest import CLUSTER_IDS, CLUSTERS

# Several seconds of helm, kustomize and schema checks (docs/kubernetes-rendering.md "Cost"): the
# full tier only; one xdist worker, so each cluster renders once per session.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("rendering")]


@pytest.mark.parametrize(("environment", "key"), CLUSTERS, ids=CLUSTER_IDS)
def test_every_release_renders_without_unexplained_warnings(cluster_render, environment, key):
    render = cluster_render(environment, key)
    problems = []
    for release in render.releases:
        rendered = render.rendered[release.name]
        if rendered is None:
            assert release.chart in charts.UNAVAILABLE
            continue
        assert rendered.objects, f"{release.source}: {release.chart} rendered nothing"
        problems += [f"{release.source}: helm warns: {line}"
                     for line in helm.unexplained_warnings(release.chart, release.version, rendered)]
    assert not problems, "\n".join(problems) + "\nfix: change the values, or add the warning with its reason to " \
                                                "ACCEPTED_WARNINGS in vault_platform/rendering/helm.py"


def test_every_pinned_chart_but_gitlab_runner_is_rendered(cluster_render):
    """Skipped is exactly the one chart this CI cannot obtain, and nothing else."""
    skipped, rendered = set(), set()
    for environment, key in CLUSTERS:
        render = cluster_render(environment, key)
        for release in render.releases:
            (skipped if render.rendered[release.name] is None else rendered).add(release.chart)
    assert skipped == set(charts.UNAVAILABLE) == {"gitlab-runner"}
    assert {"vault", "cert-manager", "external-dns", "external-secrets", "base", "istiod", "gateway",
            "aws-load-balancer-controller", "flux2", "flux2-sync"} <= rendered


def test_each_accepted_warning_still_occurs_and_is_harmless(cluster_render):
    """No stale reason: every accepted warning is still printed. The one we accept (the vault
    chart's string affinity default) leaves our table in place: one raft peer per zone."""
    render = cluster_render("default", "tooling")
    vault = next(r for r in render.releases if r.name == "vault")
    rendered = render.rendered["vault"]
    assert rendered.warnings and not helm.unexplained_warnings("vault", vault.version, rendered)
    assert helm.unexplained_warnings("vault", vault.version, rendered, accepted={}) == list(rendered.warnings)
    statefulset = next(o for o in rendered.objects if o["kind"] == "StatefulSet")
    terms = statefulset["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert [term["topologyKey"] for term in terms] == ["topology.kubernetes.io/zone"]


def _release(cluster_render, **changes) -> ChartRelease:
    """The tooling cluster's cert-manager HelmRelease, as flux/ declares it, with ``changes``."""
    release = next(r for r in cluster_render("default", "tooling").releases if r.name == "cert-manager")
    return dataclasses.replace(release, **changes)


def test_a_pin_without_an_archive_fails_in_one_line(cluster_render):
    cluster = cluster_render("default", "tooling").cluster
    with pytest.raises(ConfigError) as error:
        _release(cluster_render, version="v1.17.99").render(cluster)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("flux/infrastructure/cert-manager/helmrelease.yaml (HelmRelease cert-manager): "
                              "cert-manager.version = 'v1.17.99'")
    assert "cert-manager-v1.17.1.tgz" in message and "fix:" in message


def test_values_the_chart_refuses_fail_in_one_line(cluster_render):
    cluster = cluster_render("default", "tooling").cluster
    with pytest.raises(ConfigError) as error:
        _release(cluster_render, values={"crds": {"enabled": True}, "replicaCont": 2}).render(cluster)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("flux/infrastructure/cert-manager/helmrelease.yaml (HelmRelease cert-manager): spec.values = ")
    assert "replicaCont" in message and "fix:" in message


def test_a_missing_charts_directory_fails_not_skips(cluster_render, monkeypatch, tmp_path):
    monkeypatch.setenv(charts.CHARTS_DIR_VARIABLE, str(tmp_path))
    with pytest.raises(ConfigError, match="has no chart archive vault-0.30.0.tgz"):
        _release(cluster_render, chart="vault", version="0.30.0", values={}).render(cluster_render("default", "tooling").cluster)
