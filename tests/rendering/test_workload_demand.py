"""The synth-time schedulability check reads workload_demand.json: it is what the charts render."""

from __future__ import annotations

import json

import pytest

from vault_platform.rendering.demand import DEMAND_FILE, demand

from tests.rendering.conftest import CLUSTER_IDS, CLUSTERS

# Several seconds of helm, kustomize and schema checks (docs/kubernetes-rendering.md "Cost"): the
# full tier only; one xdist worker, so each cluster renders once per session.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("rendering")]


@pytest.mark.parametrize(("environment", "key"), CLUSTERS, ids=CLUSTER_IDS)
def test_the_demand_file_is_what_the_cluster_renders(cluster_render, environment, key):
    render = cluster_render(environment, key)
    committed = json.loads(DEMAND_FILE.read_text())[render.cluster.role]
    assert demand(render) == committed, ("vault_platform/gitops/workload_demand.json is stale; fix: "
                                         "python -m vault_platform.rendering.demand --write, and review the diff")
