"""Walk each declared flow hop by hop through the modelled network (VPN authorization and
route, source egress, route tables and peering both ways, destination ingress) and say
whether it is open, or which hop blocks it; then list every rule no open flow used.

Linear in the number of clusters: each flow looks only at its own places' groups, subnets
and routes, and finds the rules and routes that cover an address by looking its enclosing
networks up (_Lookup), not by scanning every rule on the group. A hub's groups and route
tables hold one rule or route per application cluster (Vault's NLB admits every
application VPC, tooling's subnets route to each), and one flow per cluster reaches them:
scanned, that is clusters x clusters; looked up, each flow costs the same whatever the
number of clusters. Report.examined counts the rules and routes looked at, so a test can
assert the growth without timing anything.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from pathlib import Path

from vault_platform.app import APPLICATION, ClusterStacks, cluster_stacks
from vault_platform.config.model import EnvironmentConfig
from vault_platform.errors import ConfigError
from vault_platform.flows.declared import ACCEPTED_OPENINGS, Flow, declared_flows, git_port
from vault_platform.flows.network import AWS_DEFAULT, Network, Place, Rule, read_network
from vault_platform.flows.places import add_places
from vault_platform.flows.synthesized import Synthesized


@dataclass(frozen=True)
class FlowResult:
    flow: Flow
    open: bool
    blocked_at: str = ""  # the hop that blocks it, in words
    used: tuple[Rule, ...] = ()  # the rules (and routes) the open path goes through

    @property
    def status(self) -> str:
        return "open" if self.open else "blocked"


@dataclass(frozen=True)
class Report:
    environment: str
    results: tuple[FlowResult, ...]
    undeclared: tuple[Rule, ...]  # openings no declared flow needs and none is accepted
    accepted: tuple[tuple[Rule, str], ...] = field(default=())
    examined: int = 0  # rules and routes the walk looked at (the checker's work, counted)
    clusters: tuple[str, ...] = ()  # the keys of the clusters checked (app.cluster_stacks), tooling first

    @property
    def blocked(self) -> tuple[FlowResult, ...]:
        return tuple(r for r in self.results if not r.open)

    def problems(self) -> list[str]:
        """One line per blocked flow and per undeclared opening: what the tests fail on."""
        lines = [f"flow '{r.flow.name}' ({r.flow.source} -> {r.flow.destination} {r.flow.protocol}/{r.flow.port}) "
                 f"is blocked at {r.blocked_at}" for r in self.blocked]
        lines += [f"undeclared opening {rule.rule_id} ({describe(rule)}): no declared flow needs it; "
                  f"fix: remove it, or declare the flow that needs it in vault_platform/flows/declared.py"
                  for rule in self.undeclared]
        return lines


def describe(rule: Rule) -> str:
    port = "all" if rule.protocol == "-1" else f"{rule.protocol}/{rule.from_port}" + (
        f"-{rule.to_port}" if rule.to_port != rule.from_port else "")
    peer = rule.cidr or rule.referenced_group
    if rule.kind.startswith("vpn-"):
        return f"{rule.kind} {rule.cidr}"
    return f"{rule.kind} {port} {'from' if rule.kind == 'ingress' else 'to'} {peer} on {rule.group}"


class _Blocked(Exception):
    pass


def _feature_on(env: EnvironmentConfig, feature: str | None) -> bool:
    return feature is None or bool(functools.reduce(getattr, feature.split("."), env))


def _place(net: Network, flow: Flow, role: str, name: str, environment: str) -> Place:
    if name not in net.places:
        known = ", ".join(sorted(net.places))
        raise ConfigError(f"flow '{flow.name}'.{role}", name,
                          f"names nothing in the stacks of environment '{environment}'",
                          f"use one of: {known} (vault_platform/flows/declared.py)")
    return net.places[name]


class _Lookup:
    """Items (rules, routes) keyed by the network they name, in their original order: the
    ones covering an address are found by looking up its enclosing networks, one lookup per
    prefix length in use, instead of scanning them all."""

    def __init__(self, items: Iterable[tuple[IPv4Network, object]]) -> None:
        self.by_network: dict[IPv4Network, list[tuple[int, object]]] = defaultdict(list)
        for position, (network, item) in enumerate(items):
            self.by_network[network].append((position, item))
        self.prefixes = sorted({network.prefixlen for network in self.by_network}, reverse=True)

    def covering(self, address: IPv4Network) -> Iterator[tuple[int, object]]:
        """(position, item) of every item whose network holds the address, longest prefix first."""
        for prefix in self.prefixes:
            if prefix <= address.prefixlen:
                yield from self.by_network.get(address.supernet(new_prefix=prefix), ())


@dataclass
class _GroupRules:
    """One security group's rules of one direction, by the peer they name."""

    by_group: dict[str, list[tuple[int, Rule]]]
    by_cidr: _Lookup


class _Walk:
    """What a check looks rules and routes up in, built lazily per group, subnet and VPN,
    each once per check; counts what it examines."""

    def __init__(self, net: Network) -> None:
        self.net = net
        self.examined = 0
        self._groups: dict[tuple[str, str], _GroupRules] = {}
        self._routes: dict[str, _Lookup] = {}
        self._vpn: dict[str, _Lookup] = {}

    def group_rules(self, group: str, kind: str) -> _GroupRules:
        key = (group, kind)
        if key not in self._groups:
            security_group = self.net.groups[group]
            rules = security_group.ingress if kind == "ingress" else security_group.egress
            by_group: dict[str, list[tuple[int, Rule]]] = defaultdict(list)
            for position, rule in enumerate(rules):
                if rule.referenced_group is not None:
                    by_group[rule.referenced_group].append((position, rule))
            self._groups[key] = _GroupRules(by_group, _Lookup((rule.cidr, rule) for rule in rules if rule.cidr is not None))
        return self._groups[key]

    def routes(self, subnet: str) -> _Lookup:
        if subnet not in self._routes:
            self._routes[subnet] = _Lookup((route[0], route) for route in self.net.subnet_routes.get(subnet, []))
        return self._routes[subnet]

    def vpn(self, kind: str) -> _Lookup:
        if kind not in self._vpn:
            rules = self.net.vpn.authorizations if kind == "vpn-authorization" else self.net.vpn.routes
            self._vpn[kind] = _Lookup((rule.cidr, rule) for rule in rules)
        return self._vpn[kind]

    def seen(self, items: Iterable) -> list:
        found = list(items)
        self.examined += len(found)
        return found


def _matching(walk: _Walk, groups: tuple[str, ...], kind: str, flow: Flow, peer: Place) -> list[Rule]:
    """The rules of ``groups`` (one direction) that admit the flow from (or to) every address
    of ``peer``: the first one, in the groups' order, that references one of the peer's
    groups; else, per address, the first one whose range holds it (empty when one has none)."""
    per_group = [walk.group_rules(group, kind) for group in groups]
    # A group reference names the peer itself: the narrowest reason the traffic passes.
    referencing = [((index, position), rule) for index, rules in enumerate(per_group) for other in peer.groups
                   for position, rule in walk.seen(rules.by_group.get(other, ())) if rule.admits(flow.protocol, flow.port)]
    if referencing:
        return [min(referencing, key=lambda found: found[0])[1]]
    chosen: dict[tuple[int, int], Rule] = {}
    for address in peer.addresses:
        covering = [((index, position), rule) for index, rules in enumerate(per_group)
                    for position, rule in walk.seen(rules.by_cidr.covering(address)) if rule.admits(flow.protocol, flow.port)]
        if not covering:
            return []
        order, rule = min(covering, key=lambda found: found[0])
        chosen[order] = rule
    return [chosen[order] for order in sorted(chosen)]


def _route(walk: _Walk, source: Place, destination: Place) -> list[Rule]:
    """Every source subnet routes to every destination address through one peering that joins both VPCs."""
    net = walk.net
    used: list[Rule] = []
    for subnet in source.subnets:
        routes = walk.routes(subnet)
        for address in destination.addresses:
            # Longest prefix wins: the first covering route is the best one.
            best = next((route for _, route in walk.seen(routes.covering(address))), None)
            if best is None or best[1] is None or net.peerings.get(best[1]) != frozenset({source.vpc, destination.vpc}):
                raise _Blocked(f"routing: subnet {subnet} has no route to {address} through a peering of the two VPCs")
            if best[2] is not None:
                used.append(best[2])
    return used


def _route_out(walk: _Walk, source: Place, destination: Place) -> list[Rule]:
    """Every source subnet's best route to the outside address goes to a NAT gateway (private
    subnets have no public address: an internet gateway route would not carry their traffic)."""
    net = walk.net
    used: list[Rule] = []
    for subnet in source.subnets:
        for address in destination.addresses:
            best = next((route for _, route in walk.seen(walk.routes(subnet).covering(address))), None)
            if best is None or best[2] is None or best[2].rule_id not in net.nat_routes:
                raise _Blocked(f"routing: subnet {subnet} has no route to {address} through a NAT gateway")
            used.append(best[2])
    return used


def evaluate(flow: Flow, net: Network, environment: str, walk: _Walk | None = None) -> FlowResult:
    walk = walk or _Walk(net)
    source = _place(net, flow, "source", flow.source, environment)
    destination = _place(net, flow, "destination", flow.destination, environment)
    used: list[Rule] = []
    try:
        if not source.addresses:
            raise _Blocked(f"{source.name}: no address (nothing in the stacks or the environment gives it one)")
        if source.vpc is None:  # outside AWS: only a public EKS endpoint can be reached
            if not all(any(a.subnet_of(c) for c in destination.public_endpoint_cidrs) for a in source.addresses):
                raise _Blocked(f"{destination.name}: no public endpoint open to {', '.join(map(str, source.addresses))}")
            return FlowResult(flow, True)
        if source.vpn:
            for address in destination.addresses:
                rule = next((r for _, r in walk.seen(walk.vpn("vpn-authorization").covering(address))), None)
                if rule is None:
                    raise _Blocked(f"Client VPN authorization: no rule authorizes {address}")
                used.append(rule)
                if destination.vpc != net.vpn.vpc:
                    # One route per association: a client leaves through the one it is connected to.
                    routes = [r for _, r in walk.seen(walk.vpn("vpn-route").covering(address))]
                    if not routes:
                        raise _Blocked(f"Client VPN route: no route to {address}")
                    used += routes
        if source.groups:
            allowed = _matching(walk, source.groups, "egress", flow, destination)
            if not allowed:
                raise _Blocked(f"egress of {', '.join(source.groups)}: nothing sends {flow.protocol}/{flow.port} to {destination.name}")
            used += allowed
        if destination.vpc is None:  # outside AWS: out through a NAT gateway, answers come back the same way
            used += _route_out(walk, source, destination)
        elif source.vpc != destination.vpc:
            used += _route(walk, source, destination)
            used += _route(walk, destination, source)  # the answers go back the same way
        if destination.groups:
            allowed = _matching(walk, destination.groups, "ingress", flow, source)
            if not allowed:
                raise _Blocked(f"ingress of {', '.join(destination.groups)}: nothing admits {flow.protocol}/{flow.port} "
                               f"from {source.name} ({', '.join(map(str, source.addresses))})")
            used += allowed
    except _Blocked as blocked:
        return FlowResult(flow, False, str(blocked))
    return FlowResult(flow, True, used=tuple(used))


def flows_of(env: EnvironmentConfig, environment_file: str) -> tuple[Flow, ...]:
    """The declared flows of an environment: its clusters (app.cluster_stacks) fill the templates."""
    clusters = cluster_stacks(env, environment_file)
    return declared_flows(clusters, database=_database_cluster(env, clusters), git=git_port(env.gitops.url))


def _database_cluster(env: EnvironmentConfig, clusters: tuple[ClusterStacks, ...]) -> str | None:
    """The key of the application cluster the environment gives the demo database."""
    with_database = {app.cluster.name for app in env.application_clusters if app.database is not None}
    return next((c.key for c in clusters if c.role == APPLICATION and c.cluster_name in with_database), None)


def check(net: Network, env: EnvironmentConfig, environment: str, flows: tuple[Flow, ...] | None = None) -> Report:
    """flows: the environment's declared flows (flows_of) unless given."""
    walk = _Walk(net)
    clusters = cluster_stacks(env, environment)
    flows = (declared_flows(clusters, database=_database_cluster(env, clusters), git=git_port(env.gitops.url))
             if flows is None else flows)
    results = tuple(evaluate(flow, net, environment, walk) for flow in flows if _feature_on(env, flow.feature))
    used = {rule.rule_id for result in results for rule in result.used}
    undeclared, accepted = [], []
    for rule in net.rules():
        if rule.rule_id in used or rule.kind == "route" or rule.origin == AWS_DEFAULT:
            continue
        reason = next((why for suffix, why in ACCEPTED_OPENINGS if rule.rule_id.endswith(suffix)), None)
        (accepted.append((rule, reason)) if reason else undeclared.append(rule))
    return Report(environment, results, tuple(undeclared), tuple(accepted), examined=walk.examined,
                  clusters=tuple(c.key for c in clusters))


def model_of(synth: Synthesized, env: EnvironmentConfig, environment_file: str, repo_root: Path) -> Network:
    net = read_network(synth)
    add_places(net, synth, env, cluster_stacks(env, environment_file), environment_file, repo_root)
    return net
