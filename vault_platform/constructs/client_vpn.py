"""An AWS Client VPN endpoint with mutual TLS, its subnet associations, authorization rules,
routes, security group and connection log.

Nothing here opens a network to the world: every authorization rule, route and egress
rule names a destination range, and ``0.0.0.0/0`` is refused in all three. With split
tunnel on, clients send only those ranges through the tunnel.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.ec2_client_vpn_authorization_rule import Ec2ClientVpnAuthorizationRule
from cdktf_cdktf_provider_aws.ec2_client_vpn_endpoint import (
    Ec2ClientVpnEndpoint,
    Ec2ClientVpnEndpointAuthenticationOptions,
    Ec2ClientVpnEndpointConnectionLogOptions,
)
from cdktf_cdktf_provider_aws.ec2_client_vpn_network_association import Ec2ClientVpnNetworkAssociation
from cdktf_cdktf_provider_aws.ec2_client_vpn_route import Ec2ClientVpnRoute
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from constructs import Construct

from vault_platform.config.model import VpnConfig
from vault_platform.errors import ConfigError

# The port and transport AWS Client VPN and its downloadable profiles use by default.
VPN_PORT = 443
CHECKOV_SUPPRESSIONS = {
    ("CKV_AWS_338", "aws_cloudwatch_log_group", "connection-log-group"):
        "retention is the environment's decision (vpn.log_retention_days, default 90 days); "
        "set 365 or more where a year of connection logs is required",
}
VPN_TRANSPORT = "udp"


@dataclass(frozen=True)
class VpnDestination:
    """A range clients may reach. name: part of the Terraform ids, so keep it stable."""

    name: str
    cidr: str
    description: str


@dataclass(frozen=True)
class VpnEgress:
    """One egress rule of the endpoint's security group (traffic after source NAT)."""

    name: str
    cidr: str
    protocol: str  # tcp or udp
    port: int
    description: str


@dataclass(frozen=True)
class ClientVpnProps:
    """vpc_id: the VPC the endpoint lives in (its security group's VPC).
    association_subnet_ids: one per zone to use; each association is billed per hour.
    authorized: ranges any authenticated client may reach (certificate auth has no groups).
    routed: ranges outside the endpoint's VPC (peered), routed through every association;
    the endpoint's own VPC is routed by AWS when a subnet is associated. vpn: the client
    range, session timeout, split tunnel and log retention (association_count is the
    stack's: it picks association_subnet_ids).
    server_certificate_arn / client_root_certificate_arn: ACM imports; clients must present
    a certificate that chains to the second. dns_servers: the VPC resolver, so private zones
    resolve for clients."""

    name: str
    vpc_id: str
    vpn: VpnConfig
    association_subnet_ids: tuple[str, ...]
    authorized: tuple[VpnDestination, ...]
    routed: tuple[VpnDestination, ...]
    egress: tuple[VpnEgress, ...]
    server_certificate_arn: str
    client_root_certificate_arn: str
    dns_servers: tuple[str, ...]
    log_kms_key_arn: str

    def __post_init__(self) -> None:
        if not self.association_subnet_ids:
            raise ConfigError("ClientVpnProps.association_subnet_ids", [], "an endpoint without a subnet association reaches nothing",
                              "pass at least one subnet (vpn.association_count >= 1)")
        if not self.authorized:
            raise ConfigError("ClientVpnProps.authorized", [], "no destination is authorized, so clients reach nothing",
                              "authorize the VPC ranges clients need")
        for kind, entries in (("authorized", self.authorized), ("routed", self.routed), ("egress", self.egress)):
            for entry in entries:
                if ipaddress.ip_network(entry.cidr).prefixlen == 0:
                    raise ConfigError(f"ClientVpnProps.{kind}[{entry.name}].cidr", entry.cidr,
                                      "would open the whole internet to VPN clients",
                                      "name the VPC range the clients need instead")


class ClientVpn(Construct):
    def __init__(self, scope: Construct, id: str, props: ClientVpnProps) -> None:
        super().__init__(scope, id)
        # Created here, before the endpoint, so connection logs land in a group that is
        # encrypted and expires, not in one AWS would create without either.
        log_group = CloudwatchLogGroup(
            self, "connection-log-group", name=f"/aws/client-vpn/{props.name}",
            retention_in_days=props.vpn.log_retention_days, kms_key_id=props.log_kms_key_arn,
        )
        self.security_group = SecurityGroup(
            self, "security-group", name=f"{props.name}-client-vpn", vpc_id=props.vpc_id,
            description="Client VPN endpoint: egress only to the platform's private services",
            tags={"Name": f"{props.name}-client-vpn"},
        )
        self.security_group_id = self.security_group.id
        # No ingress rules: the endpoint's ENIs only forward client traffic outwards. The
        # default allow-all egress is removed by Terraform; these rules replace it.
        for rule in props.egress:
            VpcSecurityGroupEgressRule(
                self, f"egress-{rule.name}", security_group_id=self.security_group_id, ip_protocol=rule.protocol,
                from_port=rule.port, to_port=rule.port, cidr_ipv4=rule.cidr, description=rule.description,
            )

        self.endpoint = Ec2ClientVpnEndpoint(
            self, "endpoint",
            description=f"{props.name} operator access (mutual TLS)",
            client_cidr_block=props.vpn.client_cidr,
            server_certificate_arn=props.server_certificate_arn,
            authentication_options=[Ec2ClientVpnEndpointAuthenticationOptions(
                type="certificate-authentication", root_certificate_chain_arn=props.client_root_certificate_arn,
            )],
            connection_log_options=Ec2ClientVpnEndpointConnectionLogOptions(
                enabled=True, cloudwatch_log_group=log_group.name,
            ),
            dns_servers=list(props.dns_servers),
            split_tunnel=props.vpn.split_tunnel,
            session_timeout_hours=props.vpn.session_timeout_hours,
            transport_protocol=VPN_TRANSPORT,
            vpn_port=VPN_PORT,
            vpc_id=props.vpc_id,
            security_group_ids=[self.security_group_id],
            self_service_portal="disabled",
            tags={"Name": props.name},
        )
        self.endpoint_id = self.endpoint.id
        self.dns_name = self.endpoint.dns_name

        # Ids keep the subnet's position: association_subnet_ids are the first N private
        # subnets in zone order, so the position is the zone (see Vpc) and N grows at the end.
        self.associations = [
            Ec2ClientVpnNetworkAssociation(self, f"association-{index}", client_vpn_endpoint_id=self.endpoint_id,
                                           subnet_id=subnet_id)
            for index, subnet_id in enumerate(props.association_subnet_ids)
        ]
        for destination in props.authorized:
            Ec2ClientVpnAuthorizationRule(
                self, f"authorize-{destination.name}", client_vpn_endpoint_id=self.endpoint_id,
                target_network_cidr=destination.cidr, authorize_all_groups=True, description=destination.description,
            )
        # A route's target subnet must be associated first, which the subnet id alone does not say.
        for destination in props.routed:
            for index, (subnet_id, association) in enumerate(zip(props.association_subnet_ids, self.associations)):
                Ec2ClientVpnRoute(
                    self, f"route-{destination.name}-{index}", client_vpn_endpoint_id=self.endpoint_id,
                    destination_cidr_block=destination.cidr, target_vpc_subnet_id=subnet_id,
                    description=destination.description, depends_on=[association],
                )
