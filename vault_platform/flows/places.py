"""Find the places flows name (declared.py) in one environment's synthesized stacks, and add
the NLBs that flux/ asks the load balancer controller for, with the security groups and
rules the controller makes for them (network.py says from which documentation)."""

from __future__ import annotations

import re
from ipaddress import IPv4Network
from pathlib import Path

import yaml

from vault_platform.app import APPLICATION, TOOLING, VPN, ClusterStacks, stack_id
from vault_platform.config.model import DEPLOY_VIA_PUBLIC_ENDPOINT, EnvironmentConfig
from vault_platform.flows.declared import LOAD_BALANCED_SERVICES, LoadBalancedService, per_cluster
from vault_platform.flows.network import (
    ANYWHERE,
    AWS_DEFAULT,
    CONTROLLER,
    Network,
    Place,
    Rule,
    SecurityGroup,
    _block,
    eks_cluster_group_id,
    subnet_ranges,
    resolver_of,
)
from vault_platform.flows.synthesized import Synthesized

_VARIABLE = re.compile(r"\$\{(\w+)(?::=([^}]*))?\}")
SOURCE_RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges"
SCHEME_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-scheme"
HEALTH_CHECK_PORT = "service.beta.kubernetes.io/aws-load-balancer-healthcheck-port"


def add_places(net: Network, synth: Synthesized, env: EnvironmentConfig, clusters: tuple[ClusterStacks, ...],
               environment_file: str, repo_root: Path) -> None:
    """clusters: app.cluster_stacks of the environment. Each cluster's places are read from
    its own stacks only, so the work grows with the clusters, not with their pairs."""
    present = tuple(c for c in clusters if c.aws in synth.stacks)
    for cluster in present:
        _cluster_places(net, synth, cluster.key, cluster.aws)
    _database(net, synth, tuple(c.aws for c in present if c.role == APPLICATION))
    _efs(net, synth, next((c.aws for c in present if c.role == TOOLING), ""))
    _people(net, env, environment_file)
    # The Git server is wherever [gitops] url points, outside the VPCs: any address, reached
    # through a NAT gateway (check.py _route_out); its own firewall is not ours to prove.
    net.places["git-server"] = Place("git-server", None, (ANYWHERE,), description=f"the Git server of {env.gitops.url}")
    for cluster in present:
        for service in LOAD_BALANCED_SERVICES:
            if service.role == cluster.role:
                place = per_cluster(cluster.key, service.place, ".") if cluster.role == APPLICATION else service.place
                _load_balancer(net, synth, service, place, cluster.key, cluster.platform, repo_root)


def _cluster_places(net: Network, synth: Synthesized, key: str, sid: str) -> None:
    stack = synth.stacks[sid]
    (cluster_name, cluster), = stack.resources("aws_eks_cluster").items()
    config = _block(cluster.get("vpc_config"))
    cluster_group = eks_cluster_group_id(synth, sid, cluster_name)
    subnets = tuple(str(synth.resolve(sid, s)) for s in config.get("subnet_ids", ()))
    extra = tuple(str(synth.resolve(sid, g)) for g in config.get("security_group_ids", ()) or ())
    vpc = net.subnets[subnets[0]][0]
    public = tuple(IPv4Network(c) for c in config.get("public_access_cidrs") or ()) if config.get("endpoint_public_access") else ()
    net.places[f"{key}.api"] = Place(f"{key}.api", vpc, subnet_ranges(net, subnets), (cluster_group, *extra), subnets, sid,
                                      public_endpoint_cidrs=public, description=f"EKS API of {cluster.get('name')}")
    templates = stack.resources("aws_launch_template")
    node_subnets: list[str] = []
    node_groups: list[str] = []
    for group in stack.resources("aws_eks_node_group").values():
        node_subnets += [str(synth.resolve(sid, s)) for s in group.get("subnet_ids", ())]
        template_ref = str(_block(group.get("launch_template")).get("id", ""))
        template = next((t for n, t in templates.items() if f".{n}." in template_ref), {})
        # A launch template naming groups replaces the cluster group on the nodes (EKS docs).
        node_groups += [str(synth.resolve(sid, g)) for g in template.get("vpc_security_group_ids") or ()] or [cluster_group]
    node_subnets = list(dict.fromkeys(node_subnets))
    net.places[f"{key}.pods"] = Place(f"{key}.pods", vpc, subnet_ranges(net, tuple(node_subnets)),
                                       tuple(dict.fromkeys(node_groups)), tuple(node_subnets), sid,
                                       description=f"nodes and pods of {cluster.get('name')}")
    endpoint_groups: list[str] = []
    for endpoint in stack.resources("aws_vpc_endpoint").values():
        if endpoint.get("vpc_endpoint_type") == "Interface":
            endpoint_groups += [str(synth.resolve(sid, g)) for g in endpoint.get("security_group_ids", ())]
    net.places[f"{key}.vpc-endpoints"] = Place(f"{key}.vpc-endpoints", vpc, subnet_ranges(net, subnets),
                                                tuple(dict.fromkeys(endpoint_groups)), subnets, sid,
                                                description="interface VPC endpoints")
    resolver = resolver_of(net.vpc_cidrs[vpc])
    net.places[f"{key}.resolver"] = Place(f"{key}.resolver", vpc, (resolver,), (), subnets, sid,
                                           description="Amazon-provided DNS (no security group)")


def _database(net: Network, synth: Synthesized, application_stacks: tuple[str, ...]) -> None:
    """The demo database, in whichever application cluster's stack holds it (at most one)."""
    for sid in application_stacks:
        stack = synth.stacks[sid]
        for body in stack.resources("aws_db_instance").values():
            groups = tuple(str(synth.resolve(sid, g)) for g in body.get("vpc_security_group_ids", ()))
            subnet_group = str(body.get("db_subnet_group_name", ""))
            subnets = next((tuple(str(synth.resolve(sid, s)) for s in g.get("subnet_ids", ()))
                            for n, g in stack.resources("aws_db_subnet_group").items() if f".{n}." in subnet_group), ())
            vpc = net.groups[groups[0]].vpc if groups and groups[0] in net.groups else None
            net.places["postgres"] = Place("postgres", vpc, subnet_ranges(net, subnets), groups, subnets, sid,
                                           description="RDS PostgreSQL")


def _efs(net: Network, synth: Synthesized, tooling: str) -> None:
    stack = synth.stacks.get(tooling)
    targets = list(stack.resources("aws_efs_mount_target").values()) if stack else []
    if targets:
        subnets = tuple(str(synth.resolve(tooling, t["subnet_id"])) for t in targets)
        groups = tuple(dict.fromkeys(str(synth.resolve(tooling, g)) for t in targets for g in t.get("security_groups", ())))
        net.places["efs"] = Place("efs", net.subnets[subnets[0]][0], subnet_ranges(net, subnets), groups, subnets, tooling,
                                  description="EFS mount targets")


def _people(net: Network, env: EnvironmentConfig, environment_file: str) -> None:
    vpn = net.vpn
    if vpn is not None:
        operators = Place("operators", vpn.vpc, subnet_ranges(net, vpn.association_subnets), vpn.groups,
                          vpn.association_subnets, vpn.stack, vpn=True,
                          description="Client VPN clients, source-NATed into the association subnets")
        net.places["operators"] = operators
    if env.deploy.access == DEPLOY_VIA_PUBLIC_ENDPOINT:
        clusters = (env.tooling.cluster, *(app.cluster for app in env.application_clusters))
        ranges = tuple(dict.fromkeys(IPv4Network(c) for cluster in clusters for c in cluster.public_access_cidrs))
        net.places["deployer"] = Place("deployer", None, ranges, description="the deploying machine, from its public ranges")
    elif vpn is not None:
        net.places["deployer"] = Place("deployer", vpn.vpc, net.places["operators"].addresses, vpn.groups,
                                       vpn.association_subnets, stack_id(environment_file, VPN), vpn=True,
                                       description="the deploying machine, connected to the Client VPN")


def _substitute(text: str, variables: dict[str, object]) -> str:
    def one(match: re.Match) -> str:
        value = variables.get(match.group(1))
        return str(value) if isinstance(value, str) and not value.startswith("${") else (match.group(2) or match.group(0))
    return _VARIABLE.sub(one, text)


def read_service(service: LoadBalancedService, repo_root: Path, variables: dict[str, object]) -> dict:
    """The Service (or a chart's service values) of a LoadBalancedService, ${VARS} filled in
    from the cluster's platform-vars ConfigMap as Flux's postBuild substitution would."""
    text = _substitute((repo_root / service.manifest).read_text(), variables)
    document = next(d for d in yaml.safe_load_all(text) if d)
    for key in service.service_path:
        document = document.get(key, {})
    return document


def _load_balancer(net: Network, synth: Synthesized, service: LoadBalancedService, place: str, cluster: str,
                   platform: str, repo_root: Path) -> None:
    """The NLB ``place`` that ``service`` gets in the cluster keyed ``cluster``, whose
    platform stack (``platform``) holds the platform-vars its ${VARS} come from."""
    if f"{cluster}.pods" not in net.places:
        return
    targets = net.places[f"{cluster}.pods"]
    stack = synth.stacks.get(platform)
    config_maps = stack.resources("kubernetes_config_map_v1") if stack else {}
    variables = next((dict(c.get("data", {})) for c in config_maps.values()), {})
    spec = read_service(service, repo_root, variables)
    metadata = spec.get("metadata", spec)  # a Service has metadata; chart values carry annotations directly
    annotations = metadata.get("annotations", {}) or {}
    body = spec.get("spec", spec)
    ports = [(int(p["port"]), int(p.get("targetPort", p["port"])), str(p.get("protocol", "TCP")).lower())
             for p in body.get("ports", []) or []] or [(p, t, "tcp") for p, t in service.default_ports]
    ranges_text = annotations.get(SOURCE_RANGES_ANNOTATION) or ",".join(body.get("loadBalancerSourceRanges") or ())
    internal = annotations.get(SCHEME_ANNOTATION, "internal") == "internal"
    vpc_cidr = net.vpc_cidrs[targets.vpc]
    sources = tuple(IPv4Network(c.strip()) for c in ranges_text.split(",") if c.strip()) or ((vpc_cidr,) if internal else (ANYWHERE,))
    frontend, backend = f"{place}:frontend", f"{place}:backend"
    origin_stack = platform
    for group_id in (frontend, backend):
        group = net.groups[group_id] = SecurityGroup(group_id, group_id, targets.vpc, origin_stack)
        group.egress.append(Rule(f"{group_id}:egress", "egress", group_id, cidr=ANYWHERE, origin=AWS_DEFAULT, stack=origin_stack,
                                 description="a group created through the EC2 API keeps its allow-all egress"))
    for port, target_port, protocol in ports:
        for cidr in sources:
            net.add_rule(Rule(f"{frontend}:{port}" + ("" if len(sources) == 1 else f":{cidr}"), "ingress", frontend, protocol,
                              port, port, cidr=cidr, origin=CONTROLLER, stack=origin_stack,
                              description=f"listener {port} from {cidr} (load-balancer-source-ranges)"))
    health = annotations.get(HEALTH_CHECK_PORT)
    target_ports = sorted({t for _, t, _ in ports} | ({int(health)} if health and str(health).isdigit() else set()))
    for target_group in targets.groups:
        for port in target_ports:
            net.add_rule(Rule(f"{backend}:{port}", "ingress", target_group, "tcp", port, port, referenced_group=backend,
                              origin=CONTROLLER, stack=origin_stack,
                              description="backend group into the targets' group (controller-managed rule)"))
    net.places[place] = Place(
        place, targets.vpc, subnet_ranges(net, targets.subnets), (frontend, backend), targets.subnets, origin_stack,
        description=f"internal NLB of {service.manifest}",
    )

