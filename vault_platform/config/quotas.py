"""AWS quotas an environment runs into, checked at synth: per cluster count (peering,
routes, Client VPN) and per account and region (VPCs, internet gateways, Elastic IPs, NAT
gateways per zone), the latter summed over every environment file that names the same
account and region, plus what the region's default VPC already uses.

An apply that hits a quota fails halfway (a peering connection or a route refused after the
VPCs exist); counted here from the environment, the same count is a one-line input error
before anything is built. Each count is what the stacks create (vault_platform/stacks/),
not an estimate: the tests compare it with the synthesized JSON (tests/test_clusters.py).

The values are AWS's defaults. An account whose quota was raised can raise the value here
with it (one edit, reviewed like any other).
"""

from __future__ import annotations

from dataclasses import dataclass

from collections.abc import Sequence

from vault_platform.config.model import EnvironmentConfig
from vault_platform.errors import ConfigError


@dataclass(frozen=True)
class Quota:
    name: str  # as AWS's quota table and Service Quotas name it
    default: int
    raise_at: str  # where an account raises it


# https://docs.aws.amazon.com/general/latest/gr/vpc-service.html ("Active VPC peering
# connections per VPC": 50, adjustable up to 125). The tooling VPC is the hub of every peering.
PEERING_CONNECTIONS_PER_VPC = Quota(
    "Active VPC peering connections per VPC", 50, "Service Quotas > Amazon VPC, quota code L-7E9ECCDB (up to 125)")
# https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html ("Routes per route
# table"). AWS raised the default from 50 to 500 in June 2025; 50 is kept, because accounts
# and partitions that still show 50 exist and a larger value here would let an apply fail.
ROUTES_PER_ROUTE_TABLE = Quota(
    "Routes per route table", 50, "Service Quotas > Amazon VPC, quota code L-93826ACB")
# https://docs.aws.amazon.com/vpn/latest/clientvpn-admin/limits.html ("Routes per Client VPN
# target network association": 100; "Authorization rules per Client VPN endpoint": 200).
# Older versions of that page gave 10 routes per endpoint and 50 rules.
CLIENT_VPN_ROUTES_PER_ASSOCIATION = Quota(
    "Routes per Client VPN target network association", 100, "Service Quotas > Amazon EC2 (Client VPN), that quota's name")
CLIENT_VPN_AUTHORIZATION_RULES = Quota(
    "Authorization rules per Client VPN endpoint", 200, "Service Quotas > Amazon EC2, quota code L-9A1BC94B")
# Vault documents no limit on the number of auth mounts (developer.hashicorp.com/vault/docs/
# internals/limits): the mount table is one storage entry, bounded by the storage backend's
# entry size (integrated storage: max_entry_size, 1 MiB by default), far beyond what the
# quotas above allow. So there is no Kubernetes-auth-mount quota to check (README "Quotas").

# What every private route table of a VPC holds besides the peering routes
# (constructs/vpc.py): the local route, the default route to the NAT gateway and the S3
# gateway endpoint's prefix-list route. The local route is counted although AWS may not:
# counting one route too many refuses at 49 instead of 50, never lets an apply fail.
ROUTES_IN_EVERY_PRIVATE_TABLE = 3
# The route the endpoint adds itself for its own (tooling) VPC, per association.
CLIENT_VPN_OWN_VPC_ROUTES = 1
# Authorization rules besides one per application VPC: the tooling VPC (stacks/vpn.py).
CLIENT_VPN_OTHER_RULES = 1


@dataclass(frozen=True)
class QuotaUse:
    quota: Quota
    count: int
    what: str  # what is counted, for the message


def quota_uses(env: EnvironmentConfig) -> tuple[QuotaUse, ...]:
    """What the environment's stacks create against each quota: hub and spoke, so the
    tooling VPC and the VPN carry one of each per application cluster."""
    clusters = len(env.application_clusters)
    return (
        QuotaUse(PEERING_CONNECTIONS_PER_VPC, clusters, "peering connections of the tooling VPC (one per application cluster)"),
        QuotaUse(ROUTES_PER_ROUTE_TABLE, ROUTES_IN_EVERY_PRIVATE_TABLE + clusters,
                 f"routes in each private route table of the tooling VPC ({ROUTES_IN_EVERY_PRIVATE_TABLE} + one per application VPC)"),
        QuotaUse(CLIENT_VPN_ROUTES_PER_ASSOCIATION, CLIENT_VPN_OWN_VPC_ROUTES + clusters,
                 "Client VPN routes per subnet association (the tooling VPC + one per application VPC)"),
        QuotaUse(CLIENT_VPN_AUTHORIZATION_RULES, CLIENT_VPN_OTHER_RULES + clusters,
                 "Client VPN authorization rules (the tooling VPC + one per application VPC)"),
    )


def check_quotas(env: EnvironmentConfig) -> None:
    for use in quota_uses(env):
        if use.count > use.quota.default:
            raise ConfigError(
                "application_clusters", f"{len(env.application_clusters)} clusters",
                f"make {use.count} {use.what}, beyond AWS's quota '{use.quota.name}' of {use.quota.default}",
                f"raise it in {use.quota.raise_at} and then the value in vault_platform/config/quotas.py, "
                "or split the clusters over two environments",
            )


# ---- per account and region ---------------------------------------------------------------
# A fresh account's defaults (https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html:
# "VPCs per Region" 5, "Internet gateways per Region" 5, "NAT gateways per Availability Zone" 5;
# https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/elastic-ip-addresses-eip.html: "all AWS
# accounts have a quota of five (5) Elastic IP addresses per Region"), read 2026-12. Every
# region starts with a default VPC that has an internet gateway and no Elastic IP
# (https://docs.aws.amazon.com/vpc/latest/userguide/default-vpc.html).
VPCS_PER_REGION = Quota("VPCs per Region", 5, "Service Quotas > Amazon VPC, quota code L-F678F1CE")
INTERNET_GATEWAYS_PER_REGION = Quota(
    "Internet gateways per Region", 5, "Service Quotas > Amazon VPC, quota code L-A4707A72")
ELASTIC_IPS_PER_REGION = Quota("EC2-VPC Elastic IPs", 5, "Service Quotas > Amazon EC2, quota code L-0263D0A3")
NAT_GATEWAYS_PER_ZONE = Quota(
    "NAT gateways per Availability Zone", 5, "Service Quotas > Amazon VPC, quota code L-FE5A380F")


@dataclass(frozen=True)
class RegionalUse:
    """One environment's count against a per-region (or per-zone) quota."""

    field: str  # the environment key that states what the account has
    quota: Quota
    count: int
    what: str


def nat_gateways_per_zone(env: EnvironmentConfig) -> tuple[int, ...]:
    """NAT gateways the environment puts in each of its zones (constructs/vpc.py: zone 0 of
    every VPC, the other zones only without single_nat_gateway)."""
    networks = [env.tooling.network, *(app.network for app in env.application_clusters)]
    return tuple(sum(1 for n in networks if index == 0 or not n.single_nat_gateway)
                 for index in range(env.availability_zone_count))


def regional_uses(env: EnvironmentConfig) -> tuple[RegionalUse, ...]:
    """What one environment's stacks create in its account and region: a VPC and an internet
    gateway per cluster, an Elastic IP per NAT gateway."""
    vpcs = 1 + len(env.application_clusters)
    per_zone = nat_gateways_per_zone(env)
    return (
        RegionalUse("quotas.vpcs_per_region", VPCS_PER_REGION, vpcs, "VPCs (one per cluster)"),
        RegionalUse("quotas.internet_gateways_per_region", INTERNET_GATEWAYS_PER_REGION, vpcs,
                    "internet gateways (one per cluster VPC)"),
        RegionalUse("quotas.elastic_ips_per_region", ELASTIC_IPS_PER_REGION, sum(per_zone),
                    "Elastic IPs (one per NAT gateway: every zone of a VPC, or one with single_nat_gateway)"),
        RegionalUse("quotas.nat_gateways_per_zone", NAT_GATEWAYS_PER_ZONE, max(per_zone, default=0),
                    "NAT gateways in the busiest zone"),
    )


def _available(env: EnvironmentConfig, use: RegionalUse) -> int:
    return getattr(env.quotas, use.field.split(".", 1)[1])


# What a region's default VPC takes from each quota.
DEFAULT_VPC_USE = {"quotas.vpcs_per_region": 1, "quotas.internet_gateways_per_region": 1}


def check_regional_quotas(env: EnvironmentConfig, neighbours: Sequence[tuple[str, EnvironmentConfig]] = ()) -> None:
    """Refuse an environment whose stacks, with every neighbour (another environment file of
    the same account and region) and the default VPC, exceed what the account has (quotas.*)."""
    shared = [(name, other) for name, other in neighbours
              if env.account_id is not None and other.account_id == env.account_id and other.region == env.region]
    others = [regional_uses(other) for _, other in shared]
    for index, use in enumerate(regional_uses(env)):
        default_vpc = DEFAULT_VPC_USE.get(use.field, 0) if env.quotas.default_vpc else 0
        # Per zone, the busiest zone is every file's first (zone 0 holds every VPC's NAT gateway).
        total = use.count + default_vpc + sum(o[index].count for o in others)
        available = _available(env, use)
        if total <= available:
            continue
        parts = [f"{use.count} {use.what}"]
        parts += [f"{o[index].count} of environment {name}" for (name, _), o in zip(shared, others, strict=True)]
        if default_vpc:
            parts.append(f"{default_vpc} of the default VPC")
        where = f"account {env.account_id}" if env.account_id else "its account"
        fixes = [f"request an increase to {total} ({use.quota.raise_at}) and set {use.field} = {total}"]
        if use.quota in (ELASTIC_IPS_PER_REGION, NAT_GATEWAYS_PER_ZONE):
            fixes.append("or single_nat_gateway = true in a network (one NAT gateway per VPC, less available)")
            fixes.append("or fewer availability zones")
        elif default_vpc:
            fixes.append("or delete the region's default VPC and set quotas.default_vpc = false")
        raise ConfigError(
            use.field, available,
            f"the environment needs {total} in {env.region} of {where} ({' + '.join(parts)}), beyond the quota "
            f"'{use.quota.name}' of {available}",
            ", ".join(fixes))
