"""Walk each declared flow hop by hop through the modelled network (VPN authorization and
route, source egress, route tables and peering both ways, destination ingress) and say
whether it is open, or which hop blocks it; then list every rule no open flow used.

Linear: each flow looks only at its own places' groups, subnets and routes, and every
lookup is a dict access, so the work grows with flows x rules on the groups they touch.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from vault_platform.config.model import EnvironmentConfig
from vault_platform.errors import ConfigError
from vault_platform.flows.declared import ACCEPTED_OPENINGS, FLOWS, Flow
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


def _matching(rules: list[Rule], flow: Flow, peer: Place) -> list[Rule]:
    """Rules that admit the flow from (or to) every address of ``peer``."""
    admitting = [rule for rule in rules if rule.admits(flow.protocol, flow.port)]
    # A group reference names the peer itself: the narrowest reason the traffic passes.
    for rule in admitting:
        if rule.referenced_group is not None and rule.referenced_group in peer.groups:
            return [rule]
    found = []
    remaining = list(peer.addresses)
    for rule in admitting:
        if rule.cidr is not None:
            covered = [a for a in remaining if a.subnet_of(rule.cidr)]
            if covered:
                found.append(rule)
                remaining = [a for a in remaining if a not in covered]
                if not remaining:
                    return found
    return []


def _route(net: Network, source: Place, destination: Place, flow: Flow) -> list[Rule]:
    """Every source subnet routes to every destination address through one peering that joins both VPCs."""
    used: list[Rule] = []
    for subnet in source.subnets:
        for address in destination.addresses:
            routes = [r for r in net.subnet_routes.get(subnet, []) if address.subnet_of(r[0])]
            best = max(routes, key=lambda r: r[0].prefixlen, default=None)  # longest prefix wins
            if best is None or best[1] is None or net.peerings.get(best[1]) != frozenset({source.vpc, destination.vpc}):
                raise _Blocked(f"routing: subnet {subnet} has no route to {address} through a peering of the two VPCs")
            if best[2] is not None:
                used.append(best[2])
    return used


def evaluate(flow: Flow, net: Network, environment: str) -> FlowResult:
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
            vpn = net.vpn
            for address in destination.addresses:
                rule = next((r for r in vpn.authorizations if address.subnet_of(r.cidr)), None)
                if rule is None:
                    raise _Blocked(f"Client VPN authorization: no rule authorizes {address}")
                used.append(rule)
                if destination.vpc != vpn.vpc:
                    # One route per association: a client leaves through the one it is connected to.
                    routes = [r for r in vpn.routes if address.subnet_of(r.cidr)]
                    if not routes:
                        raise _Blocked(f"Client VPN route: no route to {address}")
                    used += routes
        if source.groups:
            egress = [rule for group in source.groups for rule in net.groups[group].egress]
            allowed = _matching(egress, flow, destination)
            if not allowed:
                raise _Blocked(f"egress of {', '.join(source.groups)}: nothing sends {flow.protocol}/{flow.port} to {destination.name}")
            used += allowed
        if source.vpc != destination.vpc:
            used += _route(net, source, destination, flow)
            used += _route(net, destination, source, flow)  # the answers go back the same way
        if destination.groups:
            ingress = [rule for group in destination.groups for rule in net.groups[group].ingress]
            allowed = _matching(ingress, flow, source)
            if not allowed:
                raise _Blocked(f"ingress of {', '.join(destination.groups)}: nothing admits {flow.protocol}/{flow.port} "
                               f"from {source.name} ({', '.join(map(str, source.addresses))})")
            used += allowed
    except _Blocked as blocked:
        return FlowResult(flow, False, str(blocked))
    return FlowResult(flow, True, used=tuple(used))


def check(net: Network, env: EnvironmentConfig, environment: str, flows: tuple[Flow, ...] = FLOWS) -> Report:
    results = tuple(evaluate(flow, net, environment) for flow in flows if _feature_on(env, flow.feature))
    used = {rule.rule_id for result in results for rule in result.used}
    undeclared, accepted = [], []
    for rule in net.rules():
        if rule.rule_id in used or rule.kind == "route" or rule.origin == AWS_DEFAULT:
            continue
        reason = next((why for suffix, why in ACCEPTED_OPENINGS if rule.rule_id.endswith(suffix)), None)
        (accepted.append((rule, reason)) if reason else undeclared.append(rule))
    return Report(environment, results, tuple(undeclared), tuple(accepted))


def model_of(synth: Synthesized, env: EnvironmentConfig, environment_file: str, repo_root: Path) -> Network:
    net = read_network(synth)
    add_places(net, synth, env, environment_file, repo_root)
    return net
