"""AWS quotas that the number of application clusters runs into, checked at synth.

An apply that hits a quota fails halfway (a peering connection or a route refused after the
VPCs exist); counted here from the environment, the same count is a one-line input error
before anything is built. Each count is what the stacks create (vault_platform/stacks/),
not an estimate: the tests compare it with the synthesized JSON (tests/test_clusters.py).

The values are AWS's defaults. An account whose quota was raised can raise the value here
with it (one edit, reviewed like any other).
"""

from __future__ import annotations

from dataclasses import dataclass

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
