"""A VPC with public and private subnets per zone, NAT, VPC endpoints and flow logs.

Layout of the VPC range (a /16 shown; a /20 scales the same way):
  private subnets: the first /19 blocks, one per zone (10.10.0.0/19, 10.10.32.0/19, ...)
  public subnets:  /22 blocks carved from the last /19 (10.10.224.0/22, 10.10.228.0/22, ...)
Private subnets are large because EKS's VPC CNI gives every pod a VPC address; public
subnets hold only NAT gateways and load balancers.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.default_security_group import DefaultSecurityGroup
from cdktf_cdktf_provider_aws.eip import Eip
from cdktf_cdktf_provider_aws.flow_log import FlowLog
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.internet_gateway import InternetGateway
from cdktf_cdktf_provider_aws.nat_gateway import NatGateway
from cdktf_cdktf_provider_aws.route import Route
from cdktf_cdktf_provider_aws.route_table import RouteTable
from cdktf_cdktf_provider_aws.route_table_association import RouteTableAssociation
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.subnet import Subnet
from cdktf_cdktf_provider_aws.vpc import Vpc as VpcResource
from cdktf_cdktf_provider_aws.vpc_endpoint import VpcEndpoint
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from vault_platform.config.model import NetworkConfig
from vault_platform.constructs.policy import allow, policy_document, service_assume_role_policy

# Interface endpoints that let private nodes pull images, get IRSA credentials, use KMS
# and ship logs without leaving the AWS network (seed 003: "via VPC Endpoints").
INTERFACE_ENDPOINT_SERVICES = ("ecr.api", "ecr.dkr", "sts", "kms", "logs")

# Policy-gate findings accepted for resources created here (vault_platform/ops/policy_gate.py).
CHECKOV_SUPPRESSIONS = {
    ("CKV_AWS_338", "aws_cloudwatch_log_group", "flow-log-group"):
        "retention is the environment's decision (network.flow_log_retention_days, default 90 days); "
        "set 365 or more where a year of flow logs is required",
}


@dataclass(frozen=True)
class VpcProps:
    """name: prefix of Name tags. network: the VPC's range, NAT and flow-log settings.
    cluster_name: the EKS cluster whose load balancers use the subnets (subnet discovery
    tags). flow_log_kms_key_arn: key of the flow-log group."""

    name: str
    network: NetworkConfig
    availability_zones: tuple[str, ...]  # a name or token per zone, in zone order
    region: str
    cluster_name: str
    flow_log_kms_key_arn: str
    account_id: str  # literal or caller-identity token: the flow-log role's confused-deputy condition
    partition: str
    zone_attribute: str = "availability_zone"  # or "availability_zone_id" for pinned zone IDs


def subnet_layout(cidr: str, zone_count: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(private CIDRs, public CIDRs), one each per zone, as described in the module doc."""
    network = ipaddress.IPv4Network(cidr)
    eighths = list(network.subnets(prefixlen_diff=3))
    private = tuple(str(block) for block in eighths[:zone_count])
    public = tuple(str(block) for block in list(eighths[-1].subnets(prefixlen_diff=3))[:zone_count])
    return private, public


class Vpc(Construct):
    def __init__(self, scope: Construct, id: str, props: VpcProps) -> None:
        super().__init__(scope, id)
        self.cidr = props.network.cidr
        private_cidrs, public_cidrs = subnet_layout(self.cidr, len(props.availability_zones))

        self.vpc = VpcResource(
            self, "vpc", cidr_block=self.cidr, enable_dns_support=True, enable_dns_hostnames=True,
            tags={"Name": props.name},
        )
        self.vpc_id = self.vpc.id

        # The default security group is attached to anything created without one; with no
        # rules it lets nothing in or out, so such a mistake fails closed.
        DefaultSecurityGroup(self, "default-security-group", vpc_id=self.vpc_id, tags={"Name": f"{props.name}-default-deny"})

        igw = InternetGateway(self, "internet-gateway", vpc_id=self.vpc_id, tags={"Name": props.name})
        public_route_table = RouteTable(self, "public-route-table", vpc_id=self.vpc_id, tags={"Name": f"{props.name}-public"})
        # Each attribute read is a round trip to the jsii runtime: read a reference once and
        # reuse it (same Terraform expression, less synth time per environment).
        self.public_route_table_id = public_route_table.id
        Route(self, "public-default-route", route_table_id=self.public_route_table_id,
              destination_cidr_block="0.0.0.0/0", gateway_id=igw.id)

        self.public_subnet_ids, self.private_subnet_ids, self.private_route_table_ids = [], [], []
        nat_gateway_ids: list[str] = []
        # Ids keep the zone's position: it is the zone's identity here. The zones are the
        # first of AWS's sorted list (or the file's pinned list), so a count change adds or
        # drops zones at the end only, and the position also picks the subnet's CIDR
        # (subnet_layout), so a zone at another position would be a new subnet anyway.
        placement = props.zone_attribute
        for index, (zone, public_cidr, private_cidr) in enumerate(zip(props.availability_zones, public_cidrs, private_cidrs, strict=True)):
            public = Subnet(
                self, f"public-{index}", vpc_id=self.vpc_id, cidr_block=public_cidr, **{placement: zone},
                map_public_ip_on_launch=False,
                tags={"Name": f"{props.name}-public-{zone}", "kubernetes.io/role/elb": "1",
                      f"kubernetes.io/cluster/{props.cluster_name}": "shared"},
            )
            public_subnet_id = public.id
            RouteTableAssociation(self, f"public-{index}-route-table-association", subnet_id=public_subnet_id,
                                  route_table_id=self.public_route_table_id)
            self.public_subnet_ids.append(public_subnet_id)

            if index == 0 or not props.network.single_nat_gateway:
                eip = Eip(self, f"nat-{index}-address", domain="vpc", tags={"Name": f"{props.name}-nat-{zone}"}, depends_on=[igw])
                nat_gateway_ids.append(NatGateway(
                    self, f"nat-{index}", allocation_id=eip.allocation_id, subnet_id=public_subnet_id,
                    tags={"Name": f"{props.name}-{zone}"},
                ).id)

            private = Subnet(
                self, f"private-{index}", vpc_id=self.vpc_id, cidr_block=private_cidr, **{placement: zone},
                tags={"Name": f"{props.name}-private-{zone}", "kubernetes.io/role/internal-elb": "1",
                      f"kubernetes.io/cluster/{props.cluster_name}": "shared"},
            )
            route_table = RouteTable(self, f"private-{index}-route-table", vpc_id=self.vpc_id,
                                     tags={"Name": f"{props.name}-private-{zone}"})
            route_table_id, private_subnet_id = route_table.id, private.id
            Route(self, f"private-{index}-default-route", route_table_id=route_table_id,
                  destination_cidr_block="0.0.0.0/0", nat_gateway_id=nat_gateway_ids[-1])
            RouteTableAssociation(self, f"private-{index}-route-table-association", subnet_id=private_subnet_id,
                                  route_table_id=route_table_id)
            self.private_subnet_ids.append(private_subnet_id)
            self.private_route_table_ids.append(route_table_id)

        self.nat_gateway_count = len(nat_gateway_ids)

        self._endpoints(props)
        self._flow_logs(props)

    def _endpoints(self, props: VpcProps) -> None:
        VpcEndpoint(
            self, "s3-endpoint", vpc_id=self.vpc_id, service_name=f"com.amazonaws.{props.region}.s3",  # the same in aws-us-gov
            vpc_endpoint_type="Gateway", route_table_ids=self.private_route_table_ids,
            tags={"Name": f"{props.name}-s3"},
        )
        endpoint_sg = SecurityGroup(
            self, "endpoints-security-group", name=f"{props.name}-vpc-endpoints", vpc_id=self.vpc_id,
            description="HTTPS from inside the VPC to the AWS service endpoints",
            tags={"Name": f"{props.name}-vpc-endpoints"},
        )
        endpoint_sg_id = endpoint_sg.id
        VpcSecurityGroupIngressRule(
            self, "endpoints-https-from-vpc", security_group_id=endpoint_sg_id, ip_protocol="tcp",
            from_port=443, to_port=443, cidr_ipv4=self.cidr, description="HTTPS from the VPC",
        )
        for service in INTERFACE_ENDPOINT_SERVICES:
            VpcEndpoint(
                self, f"{service.replace('.', '-')}-endpoint", vpc_id=self.vpc_id,
                service_name=f"com.amazonaws.{props.region}.{service}", vpc_endpoint_type="Interface",
                private_dns_enabled=True, subnet_ids=self.private_subnet_ids, security_group_ids=[endpoint_sg_id],
                tags={"Name": f"{props.name}-{service}"},
            )

    def _flow_logs(self, props: VpcProps) -> None:
        log_group = CloudwatchLogGroup(
            self, "flow-log-group", name=f"/aws/vpc/{props.name}/flow-logs",
            retention_in_days=props.network.flow_log_retention_days, kms_key_id=props.flow_log_kms_key_arn,
        )
        role = IamRole(
            self, "flow-log-role", name=f"{props.name}-flow-logs",
            # Only the flow logs of this account may assume it (confused deputy); the flow
            # log's id is unknown before the role exists, hence the wildcard AWS documents.
            assume_role_policy=service_assume_role_policy(
                "vpc-flow-logs.amazonaws.com", source_account=props.account_id,
                source_arn=f"arn:{props.partition}:ec2:{props.region}:{props.account_id}:vpc-flow-log/*"),
        )
        log_group_arn = log_group.arn
        IamRolePolicy(
            self, "flow-log-policy", name="write-flow-logs", role=role.id,
            policy=policy_document([
                allow(["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                      [log_group_arn, f"{log_group_arn}:*"]),
            ]),
        )
        FlowLog(
            self, "flow-log", vpc_id=self.vpc_id, traffic_type="ALL", log_destination_type="cloud-watch-logs",
            log_destination=log_group_arn, iam_role_arn=role.arn, max_aggregation_interval=60,
            tags={"Name": props.name},
        )
