"""The creation-order contract: what AWS refuses at create time unless something else
already exists (or is ACTIVE), and a proof that each such precondition is an edge in the
Terraform graph of the synthesized stacks.

The flow contract (check.py) proves traffic is allowed once everything exists; this proves
that AWS accepts each resource at the moment Terraform creates it. Terraform creates two
resources in parallel unless one reaches the other through a reference or ``depends_on``;
a resource in another stack is created before when that stack deploys first (manifest.json
dependencies, app.stack_order). PRECONDITIONS is the table, one row per rule AWS documents,
with its source; ``unordered_preconditions`` returns one line per precondition that is not
an edge, naming the resource, what it needs and the fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property

from vault_platform.flows.synthesized import CROSS_STACK, Synthesized

# A resource (or data source) address inside an interpolation: "aws_vpc.vpc_6776A399" or
# "data.aws_caller_identity.caller"; a cross-stack read is matched by CROSS_STACK first.
ADDRESS = re.compile(r"(?<![\w.-])((?:data\.)?[a-z][a-z0-9_]*\.[A-Za-z0-9_-]+)")
INTERPOLATION = re.compile(r"\$\{([^{}]*)\}")
REMOTE = re.compile(r"data\.terraform_remote_state\.cross-stack-reference-input-([\w-]+)\.outputs\.([\w.-]+)")

Node = tuple[str, str]  # (stack id, "type.name")


@dataclass(frozen=True)
class Precondition:
    """One rule AWS enforces at create time. applies_to: the resource types it constrains;
    needs: for one such resource, the nodes it must reach (each tuple: at least one of its
    nodes), or a problem text when the need cannot even be named; source: where AWS says so."""

    rule: str
    applies_to: tuple[str, ...]
    requirement: str
    source: str
    needs: Callable[[Graph, Node, dict], Iterator[tuple[str, tuple[Node, ...]] | str]]


class Graph:
    """Every resource of the environment's stacks and the edges Terraform sees: references
    (also inside JSON strings such as policies), depends_on, and cross-stack reads resolved
    to the producing stack's resources."""

    def __init__(self, synth: Synthesized) -> None:
        self.synth = synth

    def body(self, node: Node) -> dict:
        stack, address = node
        data = self.synth.stacks[stack].data
        if address.startswith("data."):
            rtype, name = address[5:].split(".", 1)
            return data.get("data", {}).get(rtype, {}).get(name, {})
        rtype, name = address.split(".", 1)
        return data.get("resource", {}).get(rtype, {}).get(name, {})

    def nodes(self, resource_type: str) -> Iterator[tuple[Node, dict]]:
        for stack_id, stack in self.synth.stacks.items():
            for name, body in stack.resources(resource_type).items():
                yield (stack_id, f"{resource_type}.{name}"), body

    def _references(self, stack_id: str, value: object) -> Iterator[Node]:
        if isinstance(value, dict):
            for key, item in value.items():
                if key != "//":
                    yield from self._references(stack_id, item)
        elif isinstance(value, list):
            for item in value:
                yield from self._references(stack_id, item)
        elif isinstance(value, str) and "${" in value:
            for expression in INTERPOLATION.findall(value):
                for producer, output in REMOTE.findall(expression):
                    if producer in self.synth.stacks:
                        produced = self.synth.stacks[producer].data.get("output", {}).get(output, {}).get("value")
                        yield from self._references(producer, produced)
                for address in ADDRESS.findall(REMOTE.sub("", expression)):
                    if address.count(".") >= 1 and self._exists(stack_id, address):
                        yield stack_id, address

    def _exists(self, stack_id: str, address: str) -> bool:
        try:
            return bool(self.body((stack_id, address)))
        except ValueError:
            return False

    @cached_property
    def edges(self) -> dict[Node, frozenset[Node]]:
        edges = {}
        for stack_id, stack in self.synth.stacks.items():
            for rtype, name, body in stack.all_resources():
                node = (stack_id, f"{rtype}.{name}")
                direct = set(self._references(stack_id, {k: v for k, v in body.items() if k != "depends_on"}))
                direct.update((stack_id, address) for address in body.get("depends_on", ()))
                direct.discard(node)
                edges[node] = frozenset(direct)
        return edges

    def before(self, node: Node) -> frozenset[Node]:
        """Everything Terraform creates before ``node``, within its stack (graph edges)."""
        seen: set[Node] = set()
        todo = list(self.edges.get(node, ()))
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            todo.extend(self.edges.get(current, ()))
        return frozenset(seen)

    def ordered_after(self, node: Node, target: Node) -> bool:
        """True when ``target`` exists before ``node`` is created: a path in the graph, or
        ``target`` lives in a stack deployed before ``node``'s (deploy order)."""
        if target[0] != node[0] and target[0] in self.synth.dependency_closure(node[0]):
            return True
        return target in self.before(node)

    def resolve(self, stack_id: str, value: object) -> object:
        return self.synth.resolve(stack_id, value)

    @staticmethod
    def node_of(canonical: object) -> Node | None:
        """The resource of a canonical name ("stack:type.name.attr"), or None for a literal."""
        if not isinstance(canonical, str) or ":" not in canonical or canonical.startswith("${"):
            return None
        stack, rest = canonical.split(":", 1)
        parts = rest.split(".")
        if parts[0] == "data":
            return stack, ".".join(parts[:3])
        return stack, ".".join(parts[:2])


# ---- what each precondition needs ------------------------------------------------------

def _vpc_of(graph: Graph, node: Node | None, depth: int = 0) -> Node | None:
    """The aws_vpc a security group, subnet or EKS cluster (its cluster security group) is in."""
    if node is None or depth > 4:
        return None
    rtype = node[1].split(".")[0]
    body = graph.body(node)
    if rtype == "aws_vpc":
        return node
    if rtype in ("aws_security_group", "aws_subnet"):
        return _vpc_of(graph, graph.node_of(graph.resolve(node[0], body.get("vpc_id"))), depth + 1)
    if rtype == "aws_eks_cluster":
        subnets = (body.get("vpc_config") or {}).get("subnet_ids") or []
        return _vpc_of(graph, graph.node_of(graph.resolve(node[0], subnets[0])), depth + 1) if subnets else None
    return None


def _peerings(graph: Graph, vpc_a: Node, vpc_b: Node) -> tuple[Node, ...]:
    """The peering connections between two VPCs, each as the node that makes it active: the
    connection itself with auto_accept (same account and region: the provider waits for
    'active'), else its aws_vpc_peering_connection_accepter."""
    found = []
    for node, body in graph.nodes("aws_vpc_peering_connection"):
        ends = {graph.node_of(graph.resolve(node[0], body.get(k))) for k in ("vpc_id", "peer_vpc_id")}
        if ends != {vpc_a, vpc_b}:
            continue
        if body.get("auto_accept") is True:
            found.append(node)
        else:
            found.extend(acc for acc, acc_body in graph.nodes("aws_vpc_peering_connection_accepter")
                         if graph.node_of(graph.resolve(acc[0], acc_body.get("vpc_peering_connection_id"))) == node)
    return tuple(found)


def _peered_group_reference(graph: Graph, node: Node, body: dict):
    referenced = body.get("referenced_security_group_id")
    if not referenced:
        return
    own = _vpc_of(graph, graph.node_of(graph.resolve(node[0], body.get("security_group_id"))))
    other = _vpc_of(graph, graph.node_of(graph.resolve(node[0], referenced)))
    if own is None or other is None:
        yield f"cannot tell the VPCs of {body.get('security_group_id')} and {referenced}"
        return
    if own == other:
        return
    peerings = _peerings(graph, own, other)
    if not peerings:
        yield f"references a group in {other[0]}:{other[1]} but no peering connects it to {own[0]}:{own[1]}"
        return
    yield "the active peering between the two VPCs", peerings


def _route_through_peering(graph: Graph, node: Node, body: dict):
    connection = graph.node_of(graph.resolve(node[0], body.get("vpc_peering_connection_id")))
    if connection is None:
        return
    conn_body = graph.body(connection)
    if conn_body.get("auto_accept") is True:
        yield "the peering connection (auto-accepted)", (connection,)
        return
    accepters = tuple(acc for acc, acc_body in graph.nodes("aws_vpc_peering_connection_accepter")
                      if graph.node_of(graph.resolve(acc[0], acc_body.get("vpc_peering_connection_id"))) == connection)
    yield "the peering connection's accepter", accepters or (("?", "aws_vpc_peering_connection_accepter for it"),)


def _zone_association(graph: Graph, node: Node, body: dict):
    vpc = graph.node_of(graph.resolve(node[0], body.get("vpc_id")))
    zone = graph.node_of(graph.resolve(node[0], body.get("zone_id")))
    if vpc is not None:
        vpc_body = graph.body(vpc)
        if not (vpc_body.get("enable_dns_support", True) and vpc_body.get("enable_dns_hostnames")):
            yield f"VPC {vpc[0]}:{vpc[1]} must have enable_dns_support and enable_dns_hostnames true"
        yield "the VPC (with its DNS attributes set)", (vpc,)
    if zone is not None:
        yield "the private hosted zone", (zone,)


def _cluster_named(graph: Graph, node: Node, value: object) -> Node | None:
    resolved = graph.node_of(graph.resolve(node[0], value))
    if resolved is not None:
        return resolved
    return next((n for n, b in graph.nodes("aws_eks_cluster") if b.get("name") == value), None)


def _cluster_active(graph: Graph, node: Node, body: dict):
    cluster = _cluster_named(graph, node, body.get("cluster_name"))
    if cluster is None:
        yield f"names cluster {body.get('cluster_name')!r}, which no stack creates"
        return
    yield "the EKS cluster, ACTIVE", (cluster,)
    if node[1].startswith("aws_eks_access_policy_association."):
        principal = graph.resolve(node[0], body.get("principal_arn"))
        entries = tuple(n for n, b in graph.nodes("aws_eks_access_entry")
                        if graph.resolve(n[0], b.get("principal_arn")) == principal
                        or f"{n[0]}:{n[1]}.principal_arn" == principal)
        yield "the access entry of the principal", entries or (("?", f"aws_eks_access_entry for {principal}"),)


def _role_permissions(graph: Graph, node: Node, body: dict):
    key = "node_role_arn" if node[1].startswith("aws_eks_node_group.") else "role_arn"
    role = graph.node_of(graph.resolve(node[0], body.get(key)))
    if role is None:
        return
    for rtype in ("aws_iam_role_policy_attachment", "aws_iam_role_policy"):
        for grant, grant_body in graph.nodes(rtype):
            if graph.node_of(graph.resolve(grant[0], grant_body.get("role"))) == role:
                yield f"the permissions of its role ({grant[1]})", (grant,)


ARN_ROLE = re.compile(r"^arn:[\w-]+:iam::[^:]*:role/(?:[\w+=,.@/-]*/)?([\w+=,.@-]+)$")


PRINCIPAL = re.compile(r'"(?:AWS|Federated)":("[^"]*"|\[[^\]]*\])')


def _principals(policy: object) -> Iterator[str]:
    if not isinstance(policy, str):
        return
    try:
        document = json.loads(policy)
    except ValueError:
        # An interpolation with quotes inside (a function call in a condition key) breaks
        # JSON parsing; principals never hold one, so read them directly.
        for value in PRINCIPAL.findall(policy):
            yield from re.findall(r'"([^"]*)"', value)
        return
    for statement in document.get("Statement", []):
        principal = statement.get("Principal")
        if not isinstance(principal, dict):
            continue
        for kind in ("AWS", "Federated"):
            values = principal.get(kind, [])
            yield from ([values] if isinstance(values, str) else values)


def _principals_exist(graph: Graph, node: Node, body: dict):
    policy = body.get("policy") if node[1].startswith("aws_kms_key.") else body.get("assume_role_policy")
    roles_by_name = {b.get("name"): n for n, b in graph.nodes("aws_iam_role") if isinstance(b.get("name"), str)}
    for principal in _principals(policy):
        target = graph.node_of(graph.resolve(node[0], principal)) if principal.startswith("${") else None
        if target is None and principal.startswith("${"):
            # A reference inside a longer expression: every resource it names.
            refs = tuple(graph._references(node[0], principal))
            if refs:
                yield f"the principal {principal}", refs
            continue
        if target is not None:
            yield f"the principal {principal}", (target,)
            continue
        match = ARN_ROLE.match(principal)
        if match and match.group(1) in roles_by_name:
            # A role this environment creates, named by a hand-built ARN: no edge unless said.
            yield f"the role {match.group(1)} (named by a literal ARN)", (roles_by_name[match.group(1)],)


def _nat_needs_internet_gateway(graph: Graph, node: Node, body: dict):
    if body.get("connectivity_type", "public") != "public":
        return
    vpc = _vpc_of(graph, graph.node_of(graph.resolve(node[0], body.get("subnet_id"))))
    gateways = tuple(n for n, b in graph.nodes("aws_internet_gateway")
                     if graph.node_of(graph.resolve(n[0], b.get("vpc_id"))) == vpc)
    yield "the internet gateway of its VPC", gateways or (("?", f"aws_internet_gateway of {vpc}"),)


def _vpn_route_association(graph: Graph, node: Node, body: dict):
    endpoint = graph.resolve(node[0], body.get("client_vpn_endpoint_id"))
    subnet = graph.resolve(node[0], body.get("target_vpc_subnet_id"))
    associations = tuple(n for n, b in graph.nodes("aws_ec2_client_vpn_network_association")
                         if graph.resolve(n[0], b.get("client_vpn_endpoint_id")) == endpoint
                         and graph.resolve(n[0], b.get("subnet_id")) == subnet)
    yield "the endpoint's association with the target subnet", associations or (("?", f"association of {subnet}"),)


PEERING_GUIDE = "https://docs.aws.amazon.com/vpc/latest/peering/"
PRECONDITIONS: tuple[Precondition, ...] = (
    Precondition(
        "peered-security-group-reference",
        ("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule"),
        "a rule referencing a security group of another VPC needs the peering between the VPCs active",
        PEERING_GUIDE + "vpc-peering-security-groups.html ('To reference a security group in a peer VPC, the VPC "
        "peering connection must be in the active state')",
        _peered_group_reference),
    Precondition(
        "route-through-peering",
        ("aws_route",),
        "a route whose target is a peering connection needs the connection active (accepted)",
        PEERING_GUIDE + "vpc-peering-routing.html (routes to a peering connection; a pending connection is not "
        "usable) and the AWS provider's aws_vpc_peering_connection: auto_accept waits for 'active'",
        _route_through_peering),
    Precondition(
        "private-zone-association",
        ("aws_route53_zone_association",),
        "associating a VPC with a private hosted zone needs the zone and the VPC, with DNS support and DNS "
        "hostnames enabled",
        "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/hosted-zone-private-considerations.html "
        "(enableDnsHostnames and enableDnsSupport must be true)",
        _zone_association),
    Precondition(
        "eks-cluster-active",
        ("aws_eks_addon", "aws_eks_node_group", "aws_eks_access_entry", "aws_eks_access_policy_association"),
        "add-ons, node groups and access entries need the cluster ACTIVE (a policy association also its access "
        "entry)",
        "https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateNodegroup.html, API_CreateAddon.html, "
        "API_CreateAccessEntry.html, API_AssociateAccessPolicy.html (ResourceInUse/InvalidRequest while the "
        "cluster is CREATING; the access entry must exist); the AWS provider's aws_eks_cluster waits for ACTIVE",
        _cluster_active),
    Precondition(
        "service-role-permissions",
        ("aws_eks_node_group", "aws_eks_cluster"),
        "a node group (cluster) needs its role's policies attached before EKS launches nodes (manages the "
        "cluster), else nodes fail to join (NodeCreationFailure)",
        "https://docs.aws.amazon.com/eks/latest/userguide/create-node-role.html ('Before you can launch nodes "
        "and register them into a cluster, you must create an IAM role for those nodes') and "
        "https://docs.aws.amazon.com/eks/latest/userguide/cluster-iam-role.html; the AWS provider's "
        "aws_eks_node_group/aws_eks_cluster docs: 'Ensure that IAM Role permissions are created before'",
        _role_permissions),
    Precondition(
        "policy-principals-exist",
        ("aws_kms_key", "aws_iam_role"),
        "every IAM principal a key policy or a trust policy names must exist when the policy is set",
        "https://docs.aws.amazon.com/kms/latest/APIReference/API_PutKeyPolicy.html ('The principals in the key "
        "policy must exist and be visible to KMS'); "
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html (a role "
        "ARN in a trust policy is resolved to the role's unique id when saved)",
        _principals_exist),
    Precondition(
        "public-nat-needs-internet-gateway",
        ("aws_nat_gateway",),
        "a public NAT gateway needs an internet gateway attached to its VPC",
        "https://docs.aws.amazon.com/vpc/latest/userguide/nat-gateway-troubleshooting.html ('Gateway.NotAttached: "
        "Network vpc-xxx has no Internet gateway attached'); the AWS provider's aws_nat_gateway docs",
        _nat_needs_internet_gateway),
    Precondition(
        "client-vpn-route-association",
        ("aws_ec2_client_vpn_route",),
        "a Client VPN route needs the endpoint associated with its target subnet",
        "https://docs.aws.amazon.com/vpn/latest/clientvpn-admin/cvpn-working-routes.html (the target must be an "
        "associated subnet)",
        _vpn_route_association),
)


def unordered_preconditions(synth: Synthesized, preconditions: tuple[Precondition, ...] = PRECONDITIONS) -> list[str]:
    """One line per precondition of a synthesized resource that no graph edge or deploy order
    guarantees, naming the resource, the rule, what it needs and the fix."""
    graph = Graph(synth)
    problems = []
    for precondition in preconditions:
        for resource_type in precondition.applies_to:
            for node, body in graph.nodes(resource_type):
                for need in precondition.needs(graph, node, body):
                    where = f"stack {node[0]}: {node[1]}"
                    if isinstance(need, str):
                        problems.append(f"{where}: {precondition.rule}: {need}")
                        continue
                    what, candidates = need
                    if any(graph.ordered_after(node, target) for target in candidates):
                        continue
                    named = ", ".join(f"{s}:{a}" for s, a in candidates)
                    problems.append(
                        f"{where}: {precondition.rule}: needs {what} ({named}) before it is created, but no reference, "
                        f"depends_on or earlier stack orders it so; fix: depends_on that resource, or deploy its "
                        f"stack first (source: {precondition.source.split(' ')[0]})")
    return problems
