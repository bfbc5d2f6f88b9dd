"""read_network sees what the multi-cluster round trip's hub-and-spoke assertions guard
against: a peering or a route between two spokes, made here directly through the EC2 API."""

from __future__ import annotations

import pytest

from vault_platform.ops.emulator import Emulator
from vault_platform.ops.emulator_network import read_network

pytestmark = pytest.mark.integration


def test_a_spoke_to_spoke_peering_and_its_route_are_seen() -> None:
    import boto3  # a dev dependency: missing, this fails instead of skipping

    with Emulator() as emulator:
        env = emulator.aws_env("eu-west-1")
        ec2 = boto3.client("ec2", endpoint_url=emulator.endpoint, region_name="eu-west-1",
                           aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
        cidrs = {"hub": "10.30.0.0/16", "spoke-a": "10.31.0.0/16", "spoke-b": "10.32.0.0/16"}
        vpcs = {name: ec2.create_vpc(CidrBlock=cidr, TagSpecifications=[
            {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": name}]}])["Vpc"]["VpcId"]
            for name, cidr in cidrs.items()}

        def peer(a: str, b: str) -> str:
            connection = ec2.create_vpc_peering_connection(VpcId=vpcs[a], PeerVpcId=vpcs[b])["VpcPeeringConnection"]
            ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=connection["VpcPeeringConnectionId"])
            return connection["VpcPeeringConnectionId"]

        hub_a, a_b = peer("hub", "spoke-a"), peer("spoke-a", "spoke-b")
        table = ec2.create_route_table(VpcId=vpcs["spoke-a"], TagSpecifications=[
            {"ResourceType": "route-table", "Tags": [{"Key": "Name", "Value": "spoke-a-private-eu-west-1a"}]}])
        table_id = table["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=table_id, DestinationCidrBlock=cidrs["hub"], VpcPeeringConnectionId=hub_a)
        ec2.create_route(RouteTableId=table_id, DestinationCidrBlock=cidrs["spoke-b"], VpcPeeringConnectionId=a_b)

        network = read_network(env)

    assert network.peers_of("hub") == {"spoke-a"}
    assert network.peers_of("spoke-a") == {"hub", "spoke-b"}
    assert {p.status for p in network.peerings} == {"active"}
    assert {name: network.vpc_cidrs[name] for name in cidrs} == cidrs
    [private] = network.private_route_tables("spoke-a")
    assert private.peering_routes == {(cidrs["hub"], hub_a), (cidrs["spoke-b"], a_b)}
