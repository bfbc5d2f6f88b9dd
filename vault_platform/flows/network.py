"""The network of one environment as AWS would build it from the synthesized stacks: VPCs,
subnets and their routes, peering, security groups with every rule (the stacks' own, EKS's
documented defaults, and what the AWS load balancer controller creates for the NLBs that
flux/ asks for), the Client VPN endpoint, and the named places flows start and end at.

Everything is indexed by canonical name (synthesized.py) in one pass over the resources,
so building the model is linear in the number of resources.

What AWS creates itself, modelled from its documentation (nothing here can ask AWS):
- EKS cluster security group ("Amazon EKS security group requirements", EKS User Guide,
  sec-group-reqs): EKS creates it with one inbound rule, all traffic from the group
  itself, and one outbound rule, all traffic to 0.0.0.0/0; it is attached to the control
  plane's network interfaces in the cluster subnets (the private API endpoint) and to
  managed node groups whose launch template names no security group.
- aws_security_group made by Terraform: Terraform removes AWS's default allow-all egress
  rule (provider docs, aws_security_group), so such a group sends only what its egress rules say.
- Pods (Amazon VPC CNI) take addresses from their node's subnets and the node's groups.
- NLBs of `type: LoadBalancer` Services (AWS load balancer controller, "Security Groups
  for Load Balancers" and the Service annotations reference): a frontend group admitting
  each service port from `load-balancer-source-ranges`, by default the VPC's range for an
  internal scheme; a backend group, which the controller lets into the targets' group on
  the target ports (and the health-check port). A rule referencing the load balancer's
  group admits its traffic whether or not it keeps the client's address (ELB docs, "Security
  groups for your Network Load Balancer"), so the hop to the targets is checked from it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from ipaddress import IPv4Network

from vault_platform.flows.synthesized import Synthesized

ALL = "-1"
ANYWHERE = IPv4Network("0.0.0.0/0")

# Where a rule comes from: the stacks' JSON, AWS's defaults, or a controller at run time.
TERRAFORM = "terraform"
AWS_DEFAULT = "aws default"
CONTROLLER = "load balancer controller"


@dataclass(frozen=True)
class Rule:
    """One security group rule, or one Client VPN authorization rule or route (kind)."""

    rule_id: str  # "<stack>:<type>.<name>" for the stacks' rules; a descriptive id otherwise
    kind: str  # "ingress", "egress", "vpn-authorization", "vpn-route"
    group: str  # the security group (or the VPN endpoint) it belongs to
    protocol: str = ALL  # tcp, udp or -1
    from_port: int = 0
    to_port: int = 65535
    cidr: IPv4Network | None = None
    referenced_group: str | None = None
    origin: str = TERRAFORM
    stack: str = ""  # the stack whose deploy creates it
    description: str = ""

    def admits(self, protocol: str, port: int) -> bool:
        if self.protocol != ALL and self.protocol != protocol:
            return False
        return self.protocol == ALL or self.from_port <= port <= self.to_port


@dataclass
class SecurityGroup:
    group_id: str
    name: str
    vpc: str | None
    stack: str
    ingress: list[Rule] = field(default_factory=list)
    egress: list[Rule] = field(default_factory=list)


@dataclass(frozen=True)
class Place:
    """Where a flow starts or ends: its VPC (None: outside AWS), the addresses it sends
    from or listens on, and the security groups on its network interfaces. vpn: traffic
    enters through the Client VPN endpoint. public_api_of: an EKS public endpoint's
    allowed ranges decide (no security group guards it)."""

    name: str
    vpc: str | None
    addresses: tuple[IPv4Network, ...]
    groups: tuple[str, ...] = ()
    subnets: tuple[str, ...] = ()
    stack: str = ""
    vpn: bool = False
    public_endpoint_cidrs: tuple[IPv4Network, ...] = ()
    description: str = ""


@dataclass
class ClientVpn:
    endpoint: str
    vpc: str
    groups: tuple[str, ...]
    association_subnets: tuple[str, ...]
    authorizations: list[Rule] = field(default_factory=list)
    routes: list[Rule] = field(default_factory=list)
    stack: str = ""


@dataclass
class Network:
    vpc_cidrs: dict[str, IPv4Network] = field(default_factory=dict)
    subnets: dict[str, tuple[str, IPv4Network]] = field(default_factory=dict)  # id -> (vpc, cidr)
    # subnet -> [(destination, peering id or None for other targets, the route's rule)]
    subnet_routes: dict[str, list[tuple[IPv4Network, str | None, Rule | None]]] = field(default_factory=dict)
    peerings: dict[str, frozenset[str]] = field(default_factory=dict)  # id -> the two VPCs
    nat_routes: set[str] = field(default_factory=set)  # rule ids of the routes whose target is a NAT gateway
    groups: dict[str, SecurityGroup] = field(default_factory=dict)
    places: dict[str, Place] = field(default_factory=dict)
    vpn: ClientVpn | None = None

    def rules(self) -> list[Rule]:
        """Every rule the stacks or a controller write (AWS defaults are not listed)."""
        found = [rule for group in self.groups.values() for rule in (*group.ingress, *group.egress)
                 if rule.origin != AWS_DEFAULT]
        if self.vpn is not None:
            found += self.vpn.authorizations + self.vpn.routes
        return found

    def add_rule(self, rule: Rule) -> None:
        group = self.groups.get(rule.group)
        if group is None:  # a group nothing in the stacks creates: kept, so the check can name it
            group = self.groups[rule.group] = SecurityGroup(rule.group, rule.group, None, rule.stack)
        (group.ingress if rule.kind == "ingress" else group.egress).append(rule)


def _network(value: object) -> IPv4Network | None:
    return IPv4Network(value) if isinstance(value, str) and "/" in value and not value.startswith("$") else None


def _block(value: object) -> dict:
    """cdktf writes a single nested block as an object, Terraform accepts a list of one."""
    if isinstance(value, list):
        return value[0] if value else {}
    return value if isinstance(value, dict) else {}


def _port(value: object, default: int) -> int:
    return int(value) if isinstance(value, (int, float, str)) and str(value).lstrip("-").isdigit() else default


def read_network(synth: Synthesized) -> Network:
    """Every VPC, subnet, route, peering, security group and rule, and the Client VPN."""
    net = Network()
    routes_by_table: dict[str, list[tuple[IPv4Network, str | None, Rule | None]]] = defaultdict(list)
    table_subnets: list[tuple[str, str]] = []
    vpn_parts: dict[str, list] = defaultdict(list)
    for stack_id, stack in synth.stacks.items():
        def ref(value: object, stack_id: str = stack_id) -> object:
            return synth.resolve(stack_id, value)

        for rtype, name, body in stack.all_resources():
            own = synth.address(stack_id, rtype, name)
            address = f"{stack_id}:{rtype}.{name}"
            if rtype == "aws_vpc":
                net.vpc_cidrs[own] = IPv4Network(body["cidr_block"])
            elif rtype == "aws_subnet":
                net.subnets[own] = (str(ref(body["vpc_id"])), IPv4Network(body["cidr_block"]))
            elif rtype == "aws_route":
                destination = _network(body.get("destination_cidr_block"))
                peering = body.get("vpc_peering_connection_id")
                route = Rule(address, "route", str(ref(body["route_table_id"])), cidr=destination, stack=stack_id)
                if body.get("nat_gateway_id"):
                    net.nat_routes.add(address)
                if destination is not None:
                    routes_by_table[str(ref(body["route_table_id"]))].append(
                        (destination, str(ref(peering)) if peering else None, route))
            elif rtype == "aws_route_table_association":
                table_subnets.append((str(ref(body["route_table_id"])), str(ref(body["subnet_id"]))))
            elif rtype == "aws_vpc_peering_connection":
                net.peerings[own] = frozenset({str(ref(body["vpc_id"])), str(ref(body["peer_vpc_id"]))})
            elif rtype == "aws_security_group":
                group = net.groups.setdefault(own, SecurityGroup(own, body.get("name", name), None, stack_id))
                group.name, group.vpc, group.stack = body.get("name", name), str(ref(body.get("vpc_id"))), stack_id
                for kind in ("ingress", "egress"):  # inline rules, should a stack write them
                    for index, block in enumerate(body.get(kind) or ()):
                        for rule in _classic_rules(f"{address}.{kind}[{index}]", kind, own, block, ref, stack_id):
                            net.add_rule(rule)
            elif rtype == "aws_security_group_rule":
                for rule in _classic_rules(address, body["type"], str(ref(body["security_group_id"])), body, ref, stack_id):
                    net.add_rule(rule)
            elif rtype in ("aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule"):
                net.add_rule(_rule(address, "ingress" if rtype.endswith("ingress_rule") else "egress", body, ref, stack_id))
            elif rtype == "aws_eks_cluster":
                _eks_cluster_group(net, synth, stack_id, name)
            elif rtype.startswith("aws_ec2_client_vpn_"):
                vpn_parts[rtype].append((stack_id, address, own, body))
    for table, subnet in table_subnets:
        net.subnet_routes[subnet] = routes_by_table.get(table, [])
    _client_vpn(net, synth, vpn_parts)
    return net


def _rule(address: str, kind: str, body: dict, ref, stack_id: str) -> Rule:
    """One aws_vpc_security_group_{ingress,egress}_rule: one peer, ports unless all traffic."""
    protocol = str(body.get("ip_protocol", ALL))
    whole = protocol == ALL
    referenced = body.get("referenced_security_group_id")
    return Rule(address, kind, str(ref(body["security_group_id"])), protocol,
                0 if whole else _port(body.get("from_port"), 0), 65535 if whole else _port(body.get("to_port"), 65535),
                cidr=_network(body.get("cidr_ipv4")), referenced_group=str(ref(referenced)) if referenced else None,
                stack=stack_id, description=body.get("description", ""))


def _classic_rules(address: str, kind: str, group: str, block: dict, ref, stack_id: str) -> list[Rule]:
    """The older shapes (inline blocks, aws_security_group_rule): one rule per CIDR or group named."""
    peers: list[dict] = [{"cidr": IPv4Network(c)} for c in block.get("cidr_blocks") or ()]
    peers += [{"referenced_group": str(ref(g))} for g in block.get("security_groups") or ()]
    if block.get("source_security_group_id"):
        peers.append({"referenced_group": str(ref(block["source_security_group_id"]))})
    if block.get("self"):
        peers.append({"referenced_group": group})
    protocol = str(block.get("protocol", ALL))
    return [Rule(address if len(peers) == 1 else f"{address}#{index}", kind, group, protocol,
                 _port(block.get("from_port"), 0), _port(block.get("to_port"), 65535), stack=stack_id,
                 description=block.get("description", ""), **peer) for index, peer in enumerate(peers)]


def eks_cluster_group_id(synth: Synthesized, stack_id: str, name: str) -> str:
    return synth.address(stack_id, "aws_eks_cluster", name, "vpc_config.cluster_security_group_id")


def _eks_cluster_group(net: Network, synth: Synthesized, stack_id: str, name: str) -> None:
    """The cluster security group EKS creates, with its two documented default rules."""
    body = synth.stacks[stack_id].resources("aws_eks_cluster")[name]
    group_id = eks_cluster_group_id(synth, stack_id, name)
    subnets = [str(synth.resolve(stack_id, s)) for s in _block(body.get("vpc_config")).get("subnet_ids", ())]
    group = net.groups.setdefault(group_id, SecurityGroup(group_id, f"eks-cluster-sg-{body.get('name', name)}", None, stack_id))
    group.name, group.stack = f"eks-cluster-sg-{body.get('name', name)}", stack_id
    group.vpc = net.subnets[subnets[0]][0] if subnets and subnets[0] in net.subnets else None
    cluster = body.get("name", name)
    group.ingress.append(Rule(f"eks:{cluster}:cluster-sg-self", "ingress", group_id, referenced_group=group_id,
                              origin=AWS_DEFAULT, stack=stack_id, description="EKS default: all traffic from the group itself"))
    group.egress.append(Rule(f"eks:{cluster}:cluster-sg-egress", "egress", group_id, cidr=ANYWHERE,
                             origin=AWS_DEFAULT, stack=stack_id, description="EKS default: all traffic out"))


def _client_vpn(net: Network, synth: Synthesized, parts: dict[str, list]) -> None:
    endpoints = parts.get("aws_ec2_client_vpn_endpoint", [])
    if not endpoints:
        return
    stack_id, _, own, body = endpoints[0]
    groups = tuple(str(synth.resolve(stack_id, g)) for g in body.get("security_group_ids", ()))
    associations = tuple(str(synth.resolve(s, b["subnet_id"])) for s, _, _, b in parts.get("aws_ec2_client_vpn_network_association", []))
    vpc = str(synth.resolve(stack_id, body.get("vpc_id")))
    vpn = ClientVpn(own, vpc, groups, associations, stack=stack_id)
    for s, address, _, rule in parts.get("aws_ec2_client_vpn_authorization_rule", []):
        vpn.authorizations.append(Rule(address, "vpn-authorization", own, cidr=IPv4Network(rule["target_network_cidr"]),
                                       stack=s, description=rule.get("description", "")))
    for s, address, _, route in parts.get("aws_ec2_client_vpn_route", []):
        vpn.routes.append(Rule(address, "vpn-route", own, cidr=IPv4Network(route["destination_cidr_block"]),
                               stack=s, description=route.get("description", "")))
    net.vpn = vpn


def resolver_of(cidr: IPv4Network) -> IPv4Network:
    """The Amazon-provided DNS server of a VPC, as the vpn stack names it to clients."""
    from vault_platform.stacks.vpn import vpc_resolver

    return IPv4Network(f"{vpc_resolver(str(cidr))}/32")


def subnet_ranges(net: Network, subnets: tuple[str, ...]) -> tuple[IPv4Network, ...]:
    return tuple(net.subnets[s][1] for s in subnets if s in net.subnets)

