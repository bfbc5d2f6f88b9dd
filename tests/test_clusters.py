"""Several application clusters (environments/multi.toml, issue 15), read from the session's
one synth of every environment (tests/conftest.py, no synth of its own): each cluster is a
spoke peered to tooling only, joins the private zone, is reached through the VPN, and its
stacks deploy in stack_order(); the quota counts of config/quotas.py are what the stacks
create; the legacy single [application] table loads as a one-cluster list."""

from __future__ import annotations

import copy
import json
import re

import pytest

from tests.synth import StackJson
from tests.helpers import environment_data
from vault_platform.app import cluster_stacks, stack_id, stack_order
from vault_platform.config import load_environment, parse_environment
from vault_platform.config.model import EnvironmentConfig
from vault_platform.config.quotas import (
    CLIENT_VPN_AUTHORIZATION_RULES,
    CLIENT_VPN_ROUTES_PER_ASSOCIATION,
    PEERING_CONNECTIONS_PER_VPC,
    ROUTES_IN_EVERY_PRIVATE_TABLE,
    ROUTES_PER_ROUTE_TABLE,
    quota_uses,
)
from vault_platform.errors import ConfigError

MULTI = "multi"


@pytest.fixture(scope="module")
def env() -> EnvironmentConfig:
    return load_environment(MULTI)


@pytest.fixture(scope="module")
def stacks(all_environment_stacks: dict[str, StackJson]) -> dict[str, StackJson]:
    return all_environment_stacks


def spokes(env: EnvironmentConfig):
    """(ClusterStacks, ApplicationConfig) of each application cluster."""
    return list(zip(cluster_stacks(env, MULTI)[1:], env.application_clusters))


def remote_stack(reference: str) -> str:
    """The stack a cross-stack reference reads ("" for a reference inside the stack)."""
    match = re.search(r"cross-stack-reference-input-([a-z0-9-]+)\.outputs", reference)
    return match.group(1) if match else ""


def test_the_example_has_three_application_clusters_one_with_the_database(env):
    names = [app.cluster.name for app in env.application_clusters]
    assert names == ["payments", "search", "analytics"]
    assert [app.database is not None for app in env.application_clusters] == [True, False, False]


def test_each_cluster_peers_with_tooling_only_and_routes_only_to_it(env, stacks):
    tooling_cidr = env.tooling.network.cidr
    tooling = stack_id(MULTI, "tooling")
    for ids, app in spokes(env):
        stack = stacks[ids.aws]
        (peering,) = stack.resources("aws_vpc_peering_connection").values()
        assert remote_stack(peering["peer_vpc_id"]) == tooling and peering["vpc_id"].startswith("${aws_vpc.")
        for name, route in stack.resources("aws_route").items():
            if "vpc_peering_connection_id" not in route:
                assert route["destination_cidr_block"] == "0.0.0.0/0", name  # NAT and internet gateways
                continue
            own_table = route["route_table_id"].startswith("${aws_route_table.")
            # Its own tables reach tooling; tooling's tables (read from the tooling stack) reach it back.
            expected = tooling_cidr if own_table else app.network.cidr
            assert route["destination_cidr_block"] == expected, f"{ids.aws} {name}"
            assert own_table or remote_stack(route["route_table_id"]) == tooling, f"{ids.aws} {name}"


def test_no_stack_routes_one_application_vpc_to_another(env, stacks):
    """Hub and spoke: no VPC route names another application VPC except tooling's own tables."""
    for ids, app in spokes(env):
        others = {other.network.cidr for other in env.application_clusters if other is not app}
        for stack in (stacks[sid] for sid in stack_order(env, MULTI)):
            for name, route in stack.resources("aws_route").items():
                if route.get("destination_cidr_block") in others and route["route_table_id"].startswith("${aws_route_table."):
                    assert stack.stack_id == stack_id(MULTI, "tooling"), f"{stack.stack_id} {name} routes {ids.key}'s VPC to another"


def test_each_cluster_joins_the_private_zone(env, stacks):
    for ids, _ in spokes(env):
        (association,) = stacks[ids.aws].resources("aws_route53_zone_association").values()
        assert remote_stack(association["zone_id"]) == stack_id(MULTI, "tooling")
        assert association["vpc_id"].startswith("${aws_vpc.")


def test_the_vpn_authorizes_routes_and_reaches_every_application_vpc(env, stacks):
    vpn = stacks[stack_id(MULTI, "vpn")]
    rules = {rule["target_network_cidr"] for rule in vpn.resources("aws_ec2_client_vpn_authorization_rule").values()}
    assert rules == {env.tooling.network.cidr, *(app.network.cidr for app in env.application_clusters)}
    routes = [route["destination_cidr_block"] for route in vpn.resources("aws_ec2_client_vpn_route").values()]
    associations = len(vpn.resources("aws_ec2_client_vpn_network_association"))
    for ids, app in spokes(env):
        assert routes.count(app.network.cidr) == associations, f"{ids.key}: one route per association"
        rule = vpn.resources("aws_vpc_security_group_ingress_rule")[f"{ids.key}-kubernetes-api-from-vpn"]
        assert remote_stack(rule["security_group_id"]) == ids.aws and rule["from_port"] == 443


def test_stacks_deploy_in_order_and_each_cluster_reads_only_tooling(env, stacks):
    manifest = json.loads((stacks[stack_id(MULTI, "tooling")].path.parents[2] / "manifest.json").read_text())
    order = list(stack_order(env, MULTI))
    tooling, *applications = cluster_stacks(env, MULTI)
    assert order == [tooling.aws, *(c.aws for c in applications), stack_id(MULTI, "vpn"),
                     tooling.platform, *(c.platform for c in applications)]
    dependencies = {sid: set(manifest["stacks"][sid].get("dependencies", [])) for sid in order}
    for sid, needs in dependencies.items():
        assert all(order.index(need) < order.index(sid) for need in needs), f"{sid} needs {needs}"
    for ids in applications:
        assert dependencies[ids.aws] == {tooling.aws}, "a spoke reads the hub, never another spoke"
        assert {ids.aws, stack_id(MULTI, "vpn"), tooling.platform} <= dependencies[ids.platform]
    assert {c.aws for c in applications} <= dependencies[stack_id(MULTI, "vpn")]


def configmap(stack: StackJson) -> dict[str, str]:
    return stack.one("kubernetes_config_map_v1")["data"]


def test_platform_vars_cover_every_cluster(env, stacks):
    tooling, *applications = cluster_stacks(env, MULTI)
    data = configmap(stacks[tooling.platform])
    assert data["VAULT_CLIENT_CIDRS"].split(",") == [env.tooling.network.cidr, *(a.network.cidr for a in env.application_clusters)]
    clusters = re.findall(r'"name" = "([a-z0-9-]+)", "mount" = "([a-z0-9-]+)"', data["VAULT_KUBERNETES_CLUSTERS_B64"])
    assert clusters == sorted((c.key, f"kubernetes-{c.key}") for c in applications)
    for ids in applications:
        assert f"cross-stack-reference-input-{ids.aws}.outputs" in data["VAULT_KUBERNETES_CLUSTERS_B64"]
    database = stack_id(MULTI, "payments")
    for sid in (tooling.platform, *(c.platform for c in applications)):
        assert remote_stack(configmap(stacks[sid])["DATABASE_HOST"]) == database, sid
    for ids in applications:
        assert configmap(stacks[ids.platform])["VAULT_KUBERNETES_MOUNT"] == f"kubernetes-{ids.key}"


def test_every_application_cluster_syncs_the_one_application_tree(env, stacks):
    for ids, _ in spokes(env):
        release = stacks[ids.platform].resources("helm_release")
        values = json.loads(next(r for r in release.values() if r["name"] == "platform")["values"][0])
        assert values["kustomization"]["spec"]["path"] == "./flux/clusters/application", ids.key


def test_quota_counts_are_what_the_stacks_create(env, stacks):
    uses = {use.quota: use.count for use in quota_uses(env)}
    tooling_id = stack_id(MULTI, "tooling")
    peerings = sum(len(stacks[ids.aws].resources("aws_vpc_peering_connection")) for ids, _ in spokes(env))
    assert uses[PEERING_CONNECTIONS_PER_VPC] == peerings == 3
    # Routes per tooling private table: its NAT default route, the S3 endpoint's, the local
    # route, and each spoke's accepter route into that table.
    tooling = stacks[tooling_id]
    for zone in range(env.availability_zone_count):
        into_table = sum(1 for ids, _ in spokes(env) for name in stacks[ids.aws].resources("aws_route")
                         if name.startswith(f"peering_accepter-route-{zone}_"))
        own = [n for n in tooling.resources("aws_route") if n.startswith(f"vpc_private-{zone}-default-route")]
        assert len(own) == 1 and uses[ROUTES_PER_ROUTE_TABLE] == ROUTES_IN_EVERY_PRIVATE_TABLE + into_table
    vpn = stacks[stack_id(MULTI, "vpn")]
    associations = len(vpn.resources("aws_ec2_client_vpn_network_association"))
    assert uses[CLIENT_VPN_ROUTES_PER_ASSOCIATION] == 1 + len(vpn.resources("aws_ec2_client_vpn_route")) // associations
    assert uses[CLIENT_VPN_AUTHORIZATION_RULES] == len(vpn.resources("aws_ec2_client_vpn_authorization_rule"))


def test_the_legacy_application_table_loads_as_a_one_cluster_list():
    legacy = parse_environment(environment_data())
    listed = environment_data()
    listed["application_clusters"] = [listed.pop("application")]
    assert parse_environment(listed) == legacy
    assert len(legacy.application_clusters) == 1 and legacy.application_clusters[0].cluster.name == "application"


def test_a_legacy_table_without_a_database_keeps_the_database_it_always_had():
    data = environment_data()
    del data["application"]["database"]
    assert parse_environment(data).application_clusters[0].database is not None
    listed = copy.deepcopy(data)
    listed["application_clusters"] = [listed.pop("application")]
    with pytest.raises(ConfigError, match="no application cluster has the demo database"):
        parse_environment(listed)  # the list form has no such default: it says which cluster


def test_legacy_errors_name_the_fields_as_the_file_wrote_them():
    data = environment_data()
    data["application"]["network"]["cidr"] = "10.10.0.0/17"
    with pytest.raises(ConfigError) as raised:
        parse_environment(data)
    assert raised.value.field == "application.network.cidr" and "application_clusters" not in str(raised.value)


def test_the_mount_of_the_longest_cluster_name_fits_vault_and_kubernetes_names(env):
    """No Vault limit on mount paths is documented; the IAM role check bounds the name so the
    mount stays a DNS label (63), usable wherever Kubernetes names it."""
    from vault_platform.addons import longest_role_suffix
    from vault_platform.config.validate import IAM_ROLE_NAME_LIMIT
    from vault_platform.gitops.platform_vars import vault_kubernetes_mount

    longest = IAM_ROLE_NAME_LIMIT - len(longest_role_suffix()) - len("x-")  # one-letter environment name
    assert len(vault_kubernetes_mount("a" * longest)) <= 63

