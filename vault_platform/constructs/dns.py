"""The private hosted zone that names Vault (vault.<zone>) for both VPCs and the VPN."""

from __future__ import annotations

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.route53_zone import Route53Zone, Route53ZoneVpc
from cdktf_cdktf_provider_aws.route53_zone_association import Route53ZoneAssociation
from constructs import Construct


class PrivateZone(Construct):
    """A private zone attached to its home VPC; other VPCs join through ``associate``.

    The zone ignores changes to its ``vpc`` list because associations made elsewhere (the
    application stack) show up there; without it each stack would undo the other's.
    """

    def __init__(self, scope: Construct, id: str, *, name: str, vpc_id: str) -> None:
        super().__init__(scope, id)
        self.zone = Route53Zone(
            self, "zone", name=name, comment="Private names of the platform (Vault)",
            vpc=[Route53ZoneVpc(vpc_id=vpc_id)],
            lifecycle=TerraformResourceLifecycle(ignore_changes=["vpc"]),
        )
        self.zone_id = self.zone.zone_id
        self.name = name


def associate_zone(scope: Construct, id: str, *, zone_id: str, vpc_id: str) -> Route53ZoneAssociation:
    return Route53ZoneAssociation(scope, id, zone_id=zone_id, vpc_id=vpc_id)
