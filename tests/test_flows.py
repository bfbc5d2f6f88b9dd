"""The flow contract: every declared flow open and no opening undeclared, in every
environment; the checker names the hop when a rule is broken (mutations); a flow naming
nothing fails with one line; each stack's deploy finds its flows open (deploy order)."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest

from tests.synth import StackJson
from vault_platform.app import stack_order, synthesize
from vault_platform.config import environment_names, load_environment
from vault_platform.config.model import DeployConfig
from vault_platform.errors import ConfigError
from vault_platform.flows.check import check, flows_of, model_of
from vault_platform.flows.declared import Flow
from vault_platform.flows.deploy_order import unreachable_at_deploy
from vault_platform.flows.matrix import changes, matrix, render
from vault_platform.flows.synthesized import Synthesized
from vault_platform.ops.plan_summary import render_markdown

REPO_ROOT = Path(__file__).resolve().parents[1]
PLATFORM_STACKS = ("tooling-platform", "application-platform")


@pytest.fixture(scope="module")
def default_synth(default_stacks: dict[str, StackJson]) -> Synthesized:
    outdir = next(iter(default_stacks.values())).path.parents[2]
    return Synthesized.read(outdir)


def _report(synth: Synthesized, environment: str = "default", env=None, flows: tuple[Flow, ...] | None = None):
    env = env or load_environment(environment)
    return check(model_of(synth, env, environment, REPO_ROOT), env, environment, flows)


def _mutated(synth: Synthesized, change) -> Synthesized:
    """A deep copy of the stacks with ``change(stacks)`` applied: the files stay as they are."""
    stacks = {sid: dataclasses.replace(stack, data=copy.deepcopy(stack.data)) for sid, stack in synth.stacks.items()}
    change(stacks)
    return Synthesized(stacks)


def _resources(stacks, stack_id: str, rtype: str) -> dict:
    return stacks[stack_id].data["resource"][rtype]


# GIVEN each environment's synthesized stacks WHEN checked THEN every flow is open, no
# opening is undeclared, and each platform stack's deploy finds its flows open.
@pytest.mark.parametrize("environment", environment_names())
def test_every_environment_keeps_the_flow_contract(environment: str, default_synth: Synthesized,
                                                   all_environment_stacks: dict[str, StackJson]) -> None:
    if environment == "default":
        synth = default_synth
    else:
        # The session's one synth of every environment (tests/conftest.py), this one's stacks.
        outdir = next(iter(all_environment_stacks.values())).path.parents[2]
        synth = Synthesized.read(outdir, stack_ids=stack_order(load_environment(environment), environment))
    report = _report(synth, environment)
    assert report.problems() == []
    assert len(report.results) >= 30
    assert unreachable_at_deploy(report, synth) == []


# GIVEN any environment's declared flows THEN no connection (source, destination, protocol,
# port) is declared twice for one purpose: the checker walks both alike, so the second adds
# nothing but a row (the old application-external-secrets-to-vault duplicated
# application-workloads-to-vault; put back, this fails). Two kinds of flow share a
# connection with a cluster's own flow by coincidence and stay separate, because they change
# on their own: an add-on's webhook port is its chart's (cert-manager's and External
# Secrets' are 10250 today, like the kubelet's) and Vault's TokenReview leaves from the tooling
# nodes like every pod there (a Vault node group of its own would part them).
COINCIDENT = ("-webhook", "vault-tokenreview-")


@pytest.mark.parametrize("environment", environment_names())
def test_no_connection_is_declared_twice_for_one_purpose(environment: str) -> None:
    flows = flows_of(load_environment(environment), environment)
    by_connection: dict[tuple, list[str]] = {}
    for flow in flows:
        by_connection.setdefault((flow.source, flow.destination, flow.protocol, flow.port), []).append(flow.name)
    for connection, names in by_connection.items():
        own = [n for n in names if not (n.endswith(COINCIDENT[0]) or n.startswith(COINCIDENT[1]))]
        assert len(own) <= 1, f"{connection} declared by {names}"
    assert len({f.name for f in flows}) == len(flows)


def test_default_environment_keeps_its_flow_names() -> None:
    """The templates over the cluster key give the default environment the names it had
    with two fixed roles, so matrices saved before compare flow by flow."""
    assert {f.name for f in flows_of(load_environment("default"), "default")} == {
        "operators-to-tooling-api", "operators-to-application-api", "operators-to-vault", "operators-to-dns",
        "operators-to-dns-tcp", "deployer-to-tooling-api", "deployer-to-application-api",
        "application-workloads-to-vault", "tooling-external-secrets-to-vault", "vault-nlb-to-vault", "vault-raft",
        "vault-snapshot-to-vault",
        "vault-tokenreview-tooling", "vault-tokenreview-application", "vault-to-postgres",
        "application-workloads-to-postgres", "application-workloads-to-istio-gateway",
        "application-workloads-to-istio-gateway-http", "istio-gateway-nlb-to-gateway-15021",
        "istio-gateway-nlb-to-gateway-80", "istio-gateway-nlb-to-gateway-443", "tooling-to-efs",
        "tooling-to-vpc-endpoints", "application-to-vpc-endpoints",
        "tooling-image-automation-to-git", "tooling-nodes-to-api", "tooling-api-to-kubelet",
        "application-nodes-to-api", "application-api-to-kubelet",
        "tooling-api-to-aws-load-balancer-controller-webhook", "tooling-api-to-cert-manager-webhook",
        "tooling-api-to-external-secrets-webhook", "application-api-to-aws-load-balancer-controller-webhook",
        "application-api-to-external-secrets-webhook", "application-api-to-vault-injector-webhook",
        "application-api-to-istiod-webhook"}


def _blocked(report, flow: str) -> str:
    result = next(r for r in report.results if r.flow.name == flow)
    assert not result.open, f"{flow} should be blocked"
    return result.blocked_at


def test_removing_vaults_tokenreview_rule_blocks_it_at_the_application_api(default_synth: Synthesized) -> None:
    synth = _mutated(default_synth, lambda s: _resources(s, "application", "aws_vpc_security_group_ingress_rule")
                     .pop("kubernetes-api-from-vault"))
    assert "ingress of application:aws_eks_cluster" in _blocked(_report(synth), "vault-tokenreview-application")


def test_vault_nlb_admitting_only_its_own_vpc_blocks_the_application_cluster(default_synth: Synthesized) -> None:
    def tooling_only(stacks) -> None:
        data = next(iter(_resources(stacks, "tooling-platform", "kubernetes_config_map_v1").values()))["data"]
        data["VAULT_CLIENT_CIDRS"] = "10.10.0.0/16"
    report = _report(_mutated(default_synth, tooling_only))
    assert "ingress of vault.nlb:frontend" in _blocked(report, "application-workloads-to-vault")


def test_missing_peering_route_blocks_at_routing(default_synth: Synthesized) -> None:
    def no_return_route(stacks) -> None:
        routes = _resources(stacks, "application", "aws_route")
        for name in [n for n in routes if n.startswith("peering_accepter-route")]:
            del routes[name]
    report = _report(_mutated(default_synth, no_return_route))
    assert _blocked(report, "vault-to-postgres").startswith("routing: subnet tooling:aws_subnet.")


def test_the_image_automation_reaches_git_only_through_a_nat_gateway(default_synth: Synthesized) -> None:
    """Private subnets whose default route goes to the internet gateway (no public address)
    or nowhere cannot reach the Git server: the flow is blocked at routing."""
    def to_internet_gateway(stacks) -> None:
        for route in _resources(stacks, "tooling", "aws_route").values():
            if route.pop("nat_gateway_id", None):
                route["gateway_id"] = "${aws_internet_gateway.vpc_internet-gateway_CB431535.id}"
    blocked = _blocked(_report(_mutated(default_synth, to_internet_gateway)), "tooling-image-automation-to-git")
    assert blocked.startswith("routing: subnet tooling:aws_subnet.") and blocked.endswith("0.0.0.0/0 through a NAT gateway")


def test_the_git_flow_uses_the_port_of_the_gitops_url() -> None:
    from vault_platform.flows.declared import git_port

    assert [git_port(url) for url in ("ssh://git@gitlab.example.com/p/r.git", "ssh://git@gitlab.example.com:2222/p/r.git",
                                      "https://gitlab.example.com/p/r.git")] == [22, 2222, 443]


def test_vpn_without_authorization_blocks_operators_at_the_vpn(default_synth: Synthesized) -> None:
    synth = _mutated(default_synth, lambda s: [
        _resources(s, "vpn", "aws_ec2_client_vpn_authorization_rule").pop(n)
        for n in list(_resources(s, "vpn", "aws_ec2_client_vpn_authorization_rule")) if "application" in n])
    assert _blocked(_report(synth), "operators-to-application-api").startswith("Client VPN authorization")


def test_vpn_without_egress_to_vault_blocks_at_egress(default_synth: Synthesized) -> None:
    synth = _mutated(default_synth, lambda s: [
        _resources(s, "vpn", "aws_vpc_security_group_egress_rule").pop(n)
        for n in list(_resources(s, "vpn", "aws_vpc_security_group_egress_rule")) if "egress-vault" in n])
    assert _blocked(_report(synth), "operators-to-vault").startswith("egress of vpn:aws_security_group.")


def test_an_extra_ingress_rule_is_an_undeclared_opening(default_synth: Synthesized) -> None:
    def open_ssh(stacks) -> None:
        rules = _resources(stacks, "application", "aws_vpc_security_group_ingress_rule")
        postgres_group = rules["database_from-vault_80029242"]["security_group_id"]
        rules["ssh-from-anywhere"] = {"security_group_id": postgres_group, "ip_protocol": "tcp", "from_port": 22,
                                      "to_port": 22, "cidr_ipv4": "10.0.0.0/8"}
    problems = _report(_mutated(default_synth, open_ssh)).problems()
    assert problems == [
        "undeclared opening application:aws_vpc_security_group_ingress_rule.ssh-from-anywhere (ingress tcp/22 from "
        "10.0.0.0/8 on application:aws_security_group.database_security-group_BF0DE645.id): no declared flow needs it; "
        "fix: remove it, or declare the flow that needs it in vault_platform/flows/declared.py"]


def test_the_old_8200_rule_on_the_tooling_cluster_is_reported_undeclared(default_synth: Synthesized) -> None:
    """The rule this change removed (8200 from the application VPC straight onto the tooling
    cluster's group): Vault is reached through its NLB, so nothing needs it."""
    def old_rule(stacks) -> None:
        rules = _resources(stacks, "application", "aws_vpc_security_group_ingress_rule")
        rules["vault-from-application-vpc"] = {
            "security_group_id": rules["database_from-vault_80029242"]["referenced_security_group_id"],
            "ip_protocol": "tcp", "from_port": 8200, "to_port": 8200, "cidr_ipv4": "10.20.0.0/16"}
    problems = _report(_mutated(default_synth, old_rule)).problems()
    assert len(problems) == 1 and "vault-from-application-vpc (ingress tcp/8200 from 10.20.0.0/16" in problems[0]


def test_a_flow_naming_nothing_fails_with_one_line(default_synth: Synthesized) -> None:
    bad = Flow("app-to-redis", "application.pods", "redis", 6379, "cache")
    with pytest.raises(ConfigError) as raised:
        _report(default_synth, flows=(bad,))
    message = str(raised.value)
    assert "\n" not in message
    assert "flow 'app-to-redis'.destination" in message and "redis" in message
    assert "names nothing in the stacks of environment 'default'" in message and "use one of: application.api" in message


def test_platform_stack_deployed_before_the_vpn_cannot_reach_its_api(default_synth: Synthesized) -> None:
    """The fresh-account defect: the platform stacks' providers need the VPN's rules."""
    def forget_vpn(stacks) -> None:
        for sid in PLATFORM_STACKS:
            stacks[sid] = dataclasses.replace(stacks[sid], dependencies=tuple(d for d in stacks[sid].dependencies if d != "vpn"))
    synth = _mutated(default_synth, forget_vpn)
    problems = unreachable_at_deploy(_report(synth), synth)
    assert len(problems) == 2
    assert problems[0].startswith("stack tooling-platform: flow 'deployer-to-tooling-api' needs vpn:")
    assert "fix: make tooling-platform depend on vpn" in problems[0]


def test_manifest_orders_the_vpn_before_the_platform_stacks(default_synth: Synthesized) -> None:
    for sid in PLATFORM_STACKS:
        assert "vpn" in default_synth.stacks[sid].dependencies


def test_deploy_through_public_endpoints_needs_their_ranges() -> None:
    env = load_environment("default")
    with pytest.raises(ConfigError) as raised:
        from vault_platform.config.validate import validate_environment
        validate_environment(dataclasses.replace(env, deploy=DeployConfig(access="public-endpoint")))
    assert str(raised.value).startswith("tooling.cluster.public_access_cidrs")
    assert "deploy.access = 'vpn'" in str(raised.value)


def _public_deploy(env, cidr: str = "203.0.113.0/24"):
    def public(side):
        return dataclasses.replace(side, cluster=dataclasses.replace(side.cluster, public_access_cidrs=(cidr,)))
    return dataclasses.replace(env, deploy=DeployConfig(access="public-endpoint"),
                               tooling=public(env.tooling),
                               application_clusters=tuple(public(app) for app in env.application_clusters))


def test_deploying_from_public_ranges_needs_the_public_endpoints(default_synth: Synthesized) -> None:
    env = _public_deploy(load_environment("default"))
    report = _report(default_synth, env=env)  # stacks synthesized with private-only clusters
    assert _blocked(report, "deployer-to-tooling-api") == "tooling.api: no public endpoint open to 203.0.113.0/24"


def test_deploying_from_public_ranges_works_without_the_vpn(tmp_path: Path) -> None:
    env = _public_deploy(load_environment("default"))
    synthesize(env, "default", str(tmp_path))
    synth = Synthesized.read(tmp_path)
    assert "vpn" not in synth.stacks["tooling-platform"].dependencies
    report = _report(synth, env=env)
    assert report.problems() == []
    assert unreachable_at_deploy(report, synth) == []


def test_matrix_changes_say_which_flow_changed(default_synth: Synthesized) -> None:
    base = matrix(_report(default_synth))
    synth = _mutated(default_synth, lambda s: _resources(s, "application", "aws_vpc_security_group_ingress_rule")
                     .pop("kubernetes-api-from-vault"))
    new = matrix(_report(synth))
    lines = changes(base, new)
    assert lines == ["changed flow `vault-tokenreview-application` `tooling.pods` -> `application.api` tcp/443: open -> blocked "
                     f"(blocked at {new['flows']['vault-tokenreview-application']['blocked_at']})"]
    assert changes(base, base) == []
    text = render(new)
    assert "tooling.pods       application.api            tcp/443    BLOCKED" in text
    assert json.loads(json.dumps(new)) == new  # what --save writes
    markdown = render_markdown([], title="T", flow_changes=lines, flow_base="compared with the matrix in `m.json`")
    assert "## Network flows (`make flows`)\n\n_Compared with the matrix in `m.json`._" in markdown
    assert "open -> blocked" in markdown


def test_plan_summary_compares_with_the_matrix_the_previous_plan_saved(default_stacks: dict[str, StackJson],
                                                                       tmp_path: Path) -> None:
    from vault_platform.ops.plan import _flow_changes

    outdir = next(iter(default_stacks.values())).path.parents[2]
    saved = tmp_path / "flows-default.json"
    first = _flow_changes("default", outdir, saved)
    flows = len(flows_of(load_environment("default"), "default"))
    assert first == [f"no previous matrix to compare with: {flows} flows, 0 blocked, 0 undeclared openings"]
    assert _flow_changes("default", outdir, saved) == []  # nothing changed since
    base = json.loads(saved.read_text())
    base["flows"]["vault-tokenreview-application"]["status"] = "blocked"  # as before this change
    base["undeclared"].append("application:aws_vpc_security_group_ingress_rule.vault-from-application-vpc (...)")
    saved.write_text(json.dumps(base))
    assert _flow_changes("default", outdir, saved) == [
        "changed flow `vault-tokenreview-application` `tooling.pods` -> `application.api` tcp/443: blocked -> open",
        "undeclared opening closed: application:aws_vpc_security_group_ingress_rule.vault-from-application-vpc (...)",
    ]


def test_the_plan_keeps_its_flow_matrix_outside_what_a_synth_replaces() -> None:
    """It was cdktf.out/flows-<env>.json by default: every synth replaced it, and CI never
    had it, so every summary said "no previous matrix"."""
    from vault_platform.ops.plan import default_flow_matrix, parser

    assert default_flow_matrix("staging").parts == ("flow-matrix", "flows-staging.json")
    assert parser().parse_args(["--summary", "cdktf.out/s.md"]).flow_matrix is None  # then the default above


def test_matrix_changes_name_added_and_removed_clusters() -> None:
    flow = {"source": "a.pods", "destination": "vault.nlb", "port": "tcp/8200", "status": "open", "why": "", "blocked_at": ""}
    base = {"clusters": ["tooling", "a"], "flows": {"a-workloads-to-vault": flow}, "undeclared": []}
    new = {"clusters": ["tooling", "b"], "flows": {"b-workloads-to-vault": {**flow, "source": "b.pods"}}, "undeclared": []}
    assert changes(base, new) == ["added cluster `b`", "removed cluster `a`",
                                  "added flow `b-workloads-to-vault` `b.pods` -> `vault.nlb` tcp/8200: open",
                                  "removed flow `a-workloads-to-vault`"]
    assert changes({k: v for k, v in base.items() if k != "clusters"}, base) == [], "a matrix saved before clusters"


def test_make_flows_prints_the_matrix_and_exits_0(default_stacks: dict[str, StackJson], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from vault_platform.flows.__main__ import main

    outdir = next(iter(default_stacks.values())).path.parents[2]
    assert main(["--env", "default", "--synth-dir", str(outdir), "--save", str(tmp_path / "m.json")]) == 0
    out = capsys.readouterr().out
    assert "operators          vault.nlb                  tcp/8200   open    operators-to-vault:" in out
    assert f"{len(flows_of(load_environment('default'), 'default'))} flows, 0 blocked, 0 undeclared openings" in out
    assert json.loads((tmp_path / "m.json").read_text())["flows"]["vault-raft"]["status"] == "open"


def test_older_rule_shapes_become_one_rule_per_peer() -> None:
    """Inline ingress/egress blocks and aws_security_group_rule, should a stack write them."""
    from vault_platform.flows.network import read_network
    from vault_platform.flows.synthesized import Stack

    data = {"resource": {
        "aws_security_group": {"g": {"name": "g", "vpc_id": "vpc", "ingress": [
            {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_blocks": ["10.0.0.0/8"], "self": True}]}},
        "aws_security_group_rule": {"r": {"type": "egress", "security_group_id": "${aws_security_group.g.id}",
                                          "protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": ["0.0.0.0/0"]}},
    }}
    rules = read_network(Synthesized({"s": Stack("s", data, ())})).rules()
    assert [(r.rule_id, r.kind, str(r.cidr), r.referenced_group) for r in rules] == [
        ("s:aws_security_group.g.ingress[0]#0", "ingress", "10.0.0.0/8", None),
        ("s:aws_security_group.g.ingress[0]#1", "ingress", "None", "s:aws_security_group.g.id"),
        ("s:aws_security_group_rule.r", "egress", "0.0.0.0/0", None),
    ]
    assert rules[2].admits("udp", 53) and not rules[0].admits("tcp", 23)


def _hub_and_spokes(spokes: int):
    """A hub VPC whose route table and NLB group hold one route and one rule per spoke,
    as the tooling VPC's and Vault's NLB's do per application cluster."""
    from ipaddress import IPv4Network

    from vault_platform.flows.network import Network, Place, Rule, SecurityGroup

    net = Network()
    net.vpc_cidrs["hub"] = IPv4Network("10.10.0.0/16")
    net.subnets["hub-subnet"] = ("hub", IPv4Network("10.10.1.0/24"))
    net.groups["nlb"] = SecurityGroup("nlb", "nlb", "hub", "hub")
    net.subnet_routes["hub-subnet"] = []
    for n in range(spokes):
        vpc, cidr = f"spoke-{n}", IPv4Network(f"10.{100 + n}.0.0/16")
        net.vpc_cidrs[vpc] = cidr
        net.subnets[f"{vpc}-subnet"] = (vpc, IPv4Network(f"10.{100 + n}.1.0/24"))
        net.peerings[f"pcx-{n}"] = frozenset({"hub", vpc})
        net.subnet_routes["hub-subnet"].append((cidr, f"pcx-{n}", None))
        net.subnet_routes[f"{vpc}-subnet"] = [(IPv4Network("10.10.0.0/16"), f"pcx-{n}", None)]
        net.add_rule(Rule(f"nlb-from-{vpc}", "ingress", "nlb", "tcp", 8200, 8200, cidr=cidr))
    net.places["hub.nlb"] = Place("hub.nlb", "hub", (IPv4Network("10.10.1.0/24"),), ("nlb",), ("hub-subnet",))
    last = f"spoke-{spokes - 1}"
    net.places["spoke.pods"] = Place("spoke.pods", last, (net.subnets[f"{last}-subnet"][1],), (), (f"{last}-subnet",))
    return net


# GIVEN a hub whose rules and routes grow with the spokes WHEN the last spoke's flow is
# checked THEN the rules and routes examined stay the same: the checker looks the address's
# enclosing networks up instead of scanning (scanning, as before, examined 3, 7 and 21:
# with _Lookup.covering scanning every item this fails). Counted, not timed.
def test_a_hub_with_a_rule_per_cluster_costs_each_flow_the_same() -> None:
    from vault_platform.flows.check import _Walk, evaluate

    examined = []
    for spokes in (1, 3, 10):
        net = _hub_and_spokes(spokes)
        walk = _Walk(net)
        result = evaluate(Flow("spoke-to-hub", "spoke.pods", "hub.nlb", 8200, "test"), net, "test", walk)
        assert result.open, result.blocked_at
        examined.append(walk.examined)
    assert examined[0] == examined[1] == examined[2]


@pytest.fixture(scope="module")
def two_clusters(tmp_path_factory: pytest.TempPathFactory):
    """The default environment with a second application cluster (app-1, 10.101.0.0/16, no
    database), built in memory (ops/bench.py) and synthesized once for this module."""
    from vault_platform.ops.bench import with_clusters

    env = with_clusters(load_environment("default"), 2)
    outdir = tmp_path_factory.mktemp("two-clusters")
    synthesize(env, "default", str(outdir))
    return env, Synthesized.read(outdir)


# GIVEN two application clusters WHEN checked THEN each has its own flows (VPN and
# deployer to its API, its pods to Vault's NLB, Vault's TokenReview to it, its gateway),
# all open, the database's only in the cluster that has it, and no opening undeclared.
def test_every_application_cluster_gets_its_flows_open(two_clusters) -> None:
    env, synth = two_clusters
    report = _report(synth, env=env)
    assert report.problems() == [] and unreachable_at_deploy(report, synth) == []
    assert report.clusters == ("tooling", "application", "app-1")
    names = {r.flow.name for r in report.results}
    assert {"operators-to-app-1-api", "deployer-to-app-1-api", "app-1-workloads-to-vault", "vault-tokenreview-app-1",
            "app-1-workloads-to-istio-gateway", "app-1-istio-gateway-nlb-to-gateway-443", "app-1-nodes-to-api",
            "app-1-api-to-istiod-webhook"} <= names
    assert "app-1-workloads-to-postgres" not in names and "application-workloads-to-postgres" in names
    deployer = next(r for r in report.results if r.flow.name == "deployer-to-app-1-api")
    assert deployer.flow.deploy_of == ("app-1-platform",)


# GIVEN two application clusters, each peered with tooling only (hub and spoke) WHEN a flow
# between them is declared THEN it is blocked at routing, both ways: no path joins them.
@pytest.mark.parametrize(("source", "destination"), [("application.pods", "app-1.api"), ("app-1.pods", "application.pods")])
def test_a_flow_between_two_application_clusters_is_blocked(two_clusters, source: str, destination: str) -> None:
    env, synth = two_clusters
    flow = Flow("spoke-to-spoke", source, destination, 443, "no such path may exist")
    report = _report(synth, env=env, flows=(flow,))
    assert _blocked(report, "spoke-to-spoke").startswith("routing: subnet ")
