"""The multi-cluster round trip: environments/multi.toml (tooling and three application
clusters: payments with the database, search and analytics) has every AWS stack, one per
cluster, deployed with `cdktf deploy` into the emulator, re-planned, and its teardown
rehearsed through the --allow-destroy synth, as `make emulator-demo` does for the default
environment (README "Test tiers": why this environment is the one the suite deploys).
The hub and spoke is asserted on what the emulator holds (its EC2 API), not on Terraform's
state: each application VPC peered with tooling only, and routes only along those peerings."""

from __future__ import annotations

import pytest

from vault_platform.config import load_environment
from tests import background
from vault_platform.ops.emulator_deploy import RoundTrip
from vault_platform.ops.emulator_network import NetworkView

pytestmark = [pytest.mark.integration, pytest.mark.terraform, pytest.mark.xdist_group("emulator-round-trip")]
ENVIRONMENT = "multi"
CONFIG = load_environment(ENVIRONMENT)
APPLICATION_CLUSTERS = ("payments", "search", "analytics")
AWS_STACKS = tuple(f"{ENVIRONMENT}-{name}" for name in ("tooling", *APPLICATION_CLUSTERS))
TOOLING_VPC = f"{CONFIG.name}-tooling"  # a cluster's VPC is named like its cluster (stacks/base.py)
APPLICATION_VPCS = {f"{CONFIG.name}-{app.cluster.name}": app.network.cidr for app in CONFIG.application_clusters}


@pytest.fixture(scope="session")
def multi_trip(tmp_path_factory: pytest.TempPathFactory) -> RoundTrip:
    """round_trip(..., environment="multi", rehearse_teardown=True), run as a background job
    from the start of the run (tests/background.py: it is mostly the provider's waits)."""
    trip = background.result("emulator-round-trip", tmp_path_factory)
    assert isinstance(trip, RoundTrip)
    return trip


@pytest.fixture(scope="session")
def network(multi_trip: RoundTrip) -> NetworkView:
    assert multi_trip.network is not None
    return multi_trip.network


def test_the_environment_file_has_the_clusters_this_test_names() -> None:
    assert tuple(app.cluster.name for app in CONFIG.application_clusters) == APPLICATION_CLUSTERS
    assert [app.cluster.name for app in CONFIG.application_clusters if app.database] == ["payments"]


def test_every_aws_stack_deployed_and_the_others_skipped_with_a_reason(multi_trip: RoundTrip) -> None:
    assert multi_trip.deployed == list(AWS_STACKS)
    assert set(multi_trip.skipped) == {f"{ENVIRONMENT}-vpn", f"{ENVIRONMENT}-tooling-platform",
                                       *(f"{ENVIRONMENT}-{name}-platform" for name in APPLICATION_CLUSTERS)}
    for stack_id, reason in multi_trip.skipped.items():
        assert "not in any local mirror" in reason, stack_id
    # The VPN stack (its per-cluster routes and rules) needs the tls provider, which cannot be
    # installed here; its Client VPN resources are emulator gaps anyway (emulator_gaps.py).
    assert "hashicorp/tls" in multi_trip.skipped[f"{ENVIRONMENT}-vpn"]


def test_everything_but_the_listed_gaps_was_created(multi_trip: RoundTrip) -> None:
    assert multi_trip.resources_after_deploy == multi_trip.resources_to_deploy
    assert all(multi_trip.resources_after_deploy[stack_id] > 0 for stack_id in AWS_STACKS)


def test_replan_shows_no_changes_beyond_the_allowlist(multi_trip: RoundTrip) -> None:
    assert multi_trip.replan_unexplained == {stack_id: () for stack_id in AWS_STACKS}


def test_every_allowlisted_emulator_diff_is_still_needed(multi_trip: RoundTrip) -> None:
    assert multi_trip.unneeded_allowlist == [], "moto fixed these: remove them from emulator_gaps.PERPETUAL_DIFFS"


def test_outputs_are_readable_after_deploy(multi_trip: RoundTrip) -> None:
    outputs = multi_trip.outputs
    assert outputs[f"{ENVIRONMENT}-tooling"]["cluster_name"]["value"] == TOOLING_VPC
    assert outputs[f"{ENVIRONMENT}-tooling"]["ci_deploy_role_arn"]["value"].endswith(f":role/{CONFIG.name}-ci-deploy")
    for name in APPLICATION_CLUSTERS:
        app = outputs[f"{ENVIRONMENT}-{name}"]
        assert app["cluster_name"]["value"] == f"{CONFIG.name}-{name}"
        assert app["peering_connection_id"]["value"].startswith("pcx-")
        assert ("database_address" in app) == (name == "payments"), name


def test_each_application_vpc_is_peered_with_tooling_only(network: NetworkView) -> None:
    assert network.peers_of(TOOLING_VPC) == set(APPLICATION_VPCS)
    for vpc in APPLICATION_VPCS:
        assert network.peers_of(vpc) == {TOOLING_VPC}, vpc
    assert len(network.peerings) == len(APPLICATION_VPCS)
    assert {p.status for p in network.peerings} == {"active"}


def test_tooling_private_route_tables_have_one_route_per_application_vpc(network: NetworkView,
                                                                         multi_trip: RoundTrip) -> None:
    tables = network.private_route_tables(TOOLING_VPC)
    assert len(tables) == CONFIG.availability_zone_count
    by_vpc = {f"{CONFIG.name}-{name}": multi_trip.outputs[f"{ENVIRONMENT}-{name}"]["peering_connection_id"]["value"]
              for name in APPLICATION_CLUSTERS}
    expected = {(cidr, by_vpc[vpc]) for vpc, cidr in APPLICATION_VPCS.items()}
    for table in tables:
        assert table.peering_routes == expected, table.name


def test_application_vpcs_route_to_tooling_only(network: NetworkView) -> None:
    tooling_cidr = CONFIG.tooling.network.cidr
    for vpc in APPLICATION_VPCS:
        tables = network.private_route_tables(vpc)
        assert len(tables) == CONFIG.availability_zone_count, vpc
        for table in tables:
            assert {cidr for cidr, _ in table.peering_routes} == {tooling_cidr}, table.name
    # No table anywhere (public ones included) routes one application VPC's range to another's.
    for table in network.route_tables:
        if table.vpc in APPLICATION_VPCS:
            assert not {cidr for cidr, _ in table.peering_routes} & set(APPLICATION_VPCS.values()), table.name


def test_teardown_through_allow_destroy_leaves_nothing(multi_trip: RoundTrip) -> None:
    """As in test_emulator_roundtrip.py: after the lift no deletion protection is left (the
    payments database), no prevent_destroy blocks the destroy plan, and that plan deletes
    every resource the deploy created, in every cluster's stack."""
    assert multi_trip.protected_after_lift == {stack_id: [] for stack_id in AWS_STACKS}
    assert multi_trip.resources_after_destroy == {stack_id: 0 for stack_id in AWS_STACKS}
