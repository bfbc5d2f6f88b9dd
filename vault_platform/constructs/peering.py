"""VPC peering between the application and tooling VPCs, with routes on both sides."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.route import Route
from cdktf_cdktf_provider_aws.vpc_peering_connection import (
    VpcPeeringConnection,
    VpcPeeringConnectionAccepter,
    VpcPeeringConnectionRequester,
)
from constructs import Construct


@dataclass(frozen=True)
class VpcPeeringProps:
    """Same account and region, so the connection is accepted in the same resource."""

    name: str
    requester_vpc_id: str
    requester_cidr: str
    requester_route_table_ids: list[str]
    accepter_vpc_id: str
    accepter_cidr: str
    accepter_route_table_ids: list[str]


class VpcPeering(Construct):
    def __init__(self, scope: Construct, id: str, props: VpcPeeringProps) -> None:
        super().__init__(scope, id)
        self.connection = VpcPeeringConnection(
            self, "connection", vpc_id=props.requester_vpc_id, peer_vpc_id=props.accepter_vpc_id, auto_accept=True,
            # Lets each side resolve the other's private DNS names to private addresses.
            requester=VpcPeeringConnectionRequester(allow_remote_vpc_dns_resolution=True),
            accepter=VpcPeeringConnectionAccepter(allow_remote_vpc_dns_resolution=True),
            tags={"Name": props.name},
        )
        self.connection_id = self.connection.id
        # Ids keep the route table's position: the tables are Vpc.private_route_table_ids, one
        # per zone in zone order, so the position is the zone (see Vpc), which only grows at the end.
        for index, table_id in enumerate(props.requester_route_table_ids):
            Route(self, f"requester-route-{index}", route_table_id=table_id,
                  destination_cidr_block=props.accepter_cidr, vpc_peering_connection_id=self.connection_id)
        for index, table_id in enumerate(props.accepter_route_table_ids):
            Route(self, f"accepter-route-{index}", route_table_id=table_id,
                  destination_cidr_block=props.requester_cidr, vpc_peering_connection_id=self.connection_id)
