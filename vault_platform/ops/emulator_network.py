"""The VPC network as the emulator holds it after a deploy: each VPC by its Name tag, the
peering connections between them and every route through a peering.

Read through the EC2 API (boto3 against the emulator), not from Terraform's state: this is
what an operator sees with `aws ec2 describe-vpc-peering-connections` / `describe-route-tables`,
so a path that exists in the account but in no stack's state is seen too. The round trip
(emulator_deploy.round_trip) records it after the re-plan; the multi-cluster round-trip test
asserts hub and spoke on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Peering:
    connection_id: str
    vpcs: frozenset[str]  # the two VPCs' Name tags
    status: str  # "active" once accepted


@dataclass(frozen=True)
class RouteTable:
    name: str  # Name tag: "<vpc>-private-<zone>" for a private table (constructs/vpc.py)
    vpc: str  # Name tag of its VPC
    peering_routes: frozenset[tuple[str, str]]  # (destination CIDR, peering connection id)


@dataclass(frozen=True)
class NetworkView:
    vpc_cidrs: dict[str, str]  # VPC Name tag -> its range
    peerings: tuple[Peering, ...]
    route_tables: tuple[RouteTable, ...]

    def peers_of(self, vpc: str) -> set[str]:
        return {other for p in self.peerings if vpc in p.vpcs for other in p.vpcs - {vpc}}

    def private_route_tables(self, vpc: str) -> list[RouteTable]:
        return [t for t in self.route_tables if t.vpc == vpc and t.name.startswith(f"{vpc}-private-")]


def _name(item: dict[str, Any]) -> str:
    return next((tag["Value"] for tag in item.get("Tags", []) if tag["Key"] == "Name"), "")


def _all(ec2: Any, operation: str, key: str) -> list[dict[str, Any]]:
    return [item for page in ec2.get_paginator(operation).paginate() for item in page[key]]


def read_network(aws_env: dict[str, str]) -> NetworkView:
    """aws_env: Emulator.aws_env(region), the endpoint and credentials the deploy used."""
    import boto3  # a dev dependency, like the emulator itself

    ec2 = boto3.client("ec2", endpoint_url=aws_env["AWS_ENDPOINT_URL"], region_name=aws_env["AWS_REGION"],
                       aws_access_key_id=aws_env["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=aws_env["AWS_SECRET_ACCESS_KEY"])
    vpcs = {vpc["VpcId"]: vpc for vpc in _all(ec2, "describe_vpcs", "Vpcs")}
    names = {vpc_id: _name(vpc) or vpc_id for vpc_id, vpc in vpcs.items()}  # moto's default VPC has no Name
    peerings = tuple(
        Peering(p["VpcPeeringConnectionId"],
                frozenset({names[p["RequesterVpcInfo"]["VpcId"]], names[p["AccepterVpcInfo"]["VpcId"]]}),
                p["Status"]["Code"])
        for p in _all(ec2, "describe_vpc_peering_connections", "VpcPeeringConnections"))
    tables = tuple(
        RouteTable(_name(t), names[t["VpcId"]],
                   frozenset((r.get("DestinationCidrBlock", ""), r["VpcPeeringConnectionId"])
                             for r in t.get("Routes", []) if r.get("VpcPeeringConnectionId")))
        for t in _all(ec2, "describe_route_tables", "RouteTables"))
    return NetworkView({names[vpc_id]: vpc["CidrBlock"] for vpc_id, vpc in vpcs.items()}, peerings, tables)
