"""Every environment we ship runs its rendered workloads at the node groups' minimum size and
can drain one node (vault_platform/gitops/scheduling.py); one that cannot is refused at synth."""

from __future__ import annotations

import pytest

from tests.helpers import environment_variant, set_at
from vault_platform.config import load_environment
from vault_platform.config.load import environment_names
from vault_platform.errors import ConfigError
from vault_platform.gitops import scheduling


@pytest.mark.parametrize("name", environment_names())
def test_every_environment_we_ship_is_schedulable(name):
    scheduling.check_schedulable(load_environment(name))


def test_the_capacity_table_is_the_eks_arithmetic():
    m6i = scheduling.INSTANCE_TYPES["m6i.large"]
    assert (m6i.allocatable_cpu_m, m6i.allocatable_memory_mi) == (1930, 8192 - 255 - 11 * 29 - 100)


def _refusal(*changes, base="default") -> str:
    with pytest.raises(ConfigError) as error:
        scheduling.check_schedulable(environment_variant(*changes, base=base))
    assert "\n" not in str(error.value)
    return str(error.value)


def test_vault_needs_three_zones_at_minimum_size():
    """Before this check, staging (min_size 2) and multi (two zones) synthesized fine."""
    message = _refusal(set_at("availability_zone_count", 2))
    assert message == ("tooling.cluster.node_groups = 'min_size 3 (3 nodes in 2 zones)': cannot schedule StatefulSet "
                       "vault/vault (3 replicas, 255m CPU and 272Mi each, one per zone (required anti-affinity)); fix: "
                       "set min_size to at least 3 with availability_zone_count >= 3")


def test_the_injector_needs_two_nodes():
    data_change = set_at("application.cluster.node_groups", [
        {"name": "workloads", "instance_types": ["m6i.large"], "min_size": 1, "desired_size": 1, "max_size": 2}])
    message = _refusal(data_change)
    assert message.startswith("application_clusters[0].cluster.node_groups = 'min_size 1 (1 nodes in 1 zones)': "
                              "cannot schedule Deployment vault/vault-agent-injector")
    assert message.endswith("fix: raise min_size to at least 2")


def test_too_little_memory_for_everything():
    small = dict(scheduling.INSTANCE_TYPES)
    small["m6i.large"] = scheduling.InstanceCapacity(vcpus=2, memory_mib=1000, max_pods=29)
    env = load_environment("default")
    try:
        scheduling.INSTANCE_TYPES, original = small, scheduling.INSTANCE_TYPES
        with pytest.raises(ConfigError, match=r"cannot schedule .*fix: raise min_size or use a larger instance type"):
            scheduling.check_schedulable(env)
    finally:
        scheduling.INSTANCE_TYPES = original


def test_an_instance_type_without_a_capacity_row_is_refused():
    message = _refusal(set_at("tooling.cluster.node_groups", [
        {"name": "system", "instance_types": ["m7i.large"], "min_size": 3, "desired_size": 3, "max_size": 4}]))
    assert message.startswith("tooling.cluster.node_groups[0].instance_types = 'm7i.large': has no capacity row")


def test_a_drain_that_strands_more_than_the_pdb_allows_is_refused(monkeypatch):
    """vault's PDB allows 1; a budget of 0 makes draining any node of its zone-spread pods a break."""
    demand = {role: tuple(dict(w, pdb_allows=0) if w["name"] == "StatefulSet vault/vault" else w for w in items)
              for role, items in scheduling.demand().items()}
    monkeypatch.setattr(scheduling, "demand", lambda: demand)
    with pytest.raises(ConfigError, match=r"draining one node strands 1 pods of StatefulSet vault/vault .* \(0\); "
                                          r"fix: raise min_size by one"):
        scheduling.check_schedulable(load_environment("default"))
