"""Every gap listed in vault_platform/ops/emulator_gaps.py is still a gap of the emulator: each
entry's API call, made the way the AWS provider makes it, still fails (or still comes back
wrong) on the project's emulator. When moto learns one, its probe fails here and the entry
(and the resources left out for it) can go. PERPETUAL_DIFFS are re-measured by the round
trip (test_every_allowlisted_emulator_diff_is_still_needed); PATCHED_ON_EMULATOR by
tests/test_emulator.py, whose tests fail without each correction."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from vault_platform.ops.emulator import Emulator
from vault_platform.ops.emulator_gaps import (
    APPLIED_WITH_GAPS,
    FORGOTTEN_BEFORE_DESTROY,
    UNAPPLIABLE_ON_EMULATOR,
    UNSUPPORTED_DATA_ON_EMULATOR,
    UNSUPPORTED_ON_EMULATOR,
)

import boto3  # noqa: E402  (dev dependency: a missing one must fail, not skip)
import botocore  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402
from botocore.parsers import ResponseParserError  # noqa: E402

pytestmark = pytest.mark.integration
REGION = "eu-west-1"
ACCOUNT = "123456789012"
CLIENT_VPN = "cvpn-endpoint-0123456789abcdef0"


class Aws:
    """boto3 clients on one emulator, one attempt per call (a 500 is the answer, not a retry)."""

    def __init__(self, emulator: Emulator) -> None:
        options = dict(endpoint_url=emulator.endpoint, region_name=REGION, aws_access_key_id="testing",
                       aws_secret_access_key="testing", config=Config(retries={"max_attempts": 1}))
        self.ec2, self.eks, self.efs, self.route53 = (boto3.client(n, **options) for n in ("ec2", "eks", "efs", "route53"))
        self.vpc = self.ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
        self.subnet = self.ec2.create_subnet(VpcId=self.vpc, CidrBlock="10.30.1.0/24")["Subnet"]["SubnetId"]

    def cluster(self) -> str:
        if "gaps" not in self.eks.list_clusters()["clusters"]:
            self.eks.create_cluster(name="gaps", roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks",
                                    resourcesVpcConfig={"subnetIds": [self.subnet]})
        return "gaps"

    def node_group(self) -> str:
        if "system" not in self.eks.list_nodegroups(clusterName=self.cluster())["nodegroups"]:
            self.eks.create_nodegroup(clusterName="gaps", nodegroupName="system", subnets=[self.subnet],
                                      nodeRole=f"arn:aws:iam::{ACCOUNT}:role/node")
        return "system"

    def zone_as_the_provider_creates_it(self) -> str:
        """aws_route53_zone with a vpc block: CreateHostedZone with a VPC, no PrivateZone flag
        (on AWS the VPC is what makes the zone private)."""
        zone = self.route53.create_hosted_zone(Name="gaps.internal", CallerReference=str(id(self)),
                                               HostedZoneConfig={"Comment": "probe"},
                                               VPC={"VPCRegion": REGION, "VPCId": self.vpc})
        return zone["HostedZone"]["Id"]


def fails(call: Callable[[], object]) -> bool:
    try:
        call()
    except (ClientError, ResponseParserError):  # an HTTP 500 page is not XML
        return True
    return False


def _zone_association_fails(aws: Aws) -> bool:
    other = aws.ec2.create_vpc(CidrBlock="10.31.0.0/16")["Vpc"]["VpcId"]
    return fails(lambda: aws.route53.associate_vpc_with_hosted_zone(
        HostedZoneId=aws.zone_as_the_provider_creates_it(), VPC={"VPCRegion": REGION, "VPCId": other}))


def _zone_is_public(aws: Aws) -> bool:
    return aws.route53.get_hosted_zone(Id=aws.zone_as_the_provider_creates_it())["HostedZone"]["Config"]["PrivateZone"] is False


def _file_system_policy_survives_its_deletion(aws: Aws) -> bool:
    system = aws.efs.create_file_system(CreationToken="gaps-policy")["FileSystemId"]
    aws.efs.put_file_system_policy(FileSystemId=system, Policy='{"Version": "2012-10-17", "Statement": []}')
    fails(lambda: aws.efs.delete_file_system_policy(FileSystemId=system))
    return "Policy" in aws.efs.describe_file_system_policy(FileSystemId=system)


ENDPOINT_OPTIONS = dict(
    ClientCidrBlock="10.100.0.0/22", ServerCertificateArn=f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/server",
    AuthenticationOptions=[{"Type": "certificate-authentication", "MutualAuthentication": {
        "ClientRootCertificateChainArn": f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/client"}}],
    ConnectionLogOptions={"Enabled": False})
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/admin"

# gap entry -> probe that is True while the emulator still has the gap
PROBES: dict[str, Callable[[Aws], bool]] = {
    "aws_ec2_client_vpn_endpoint": lambda aws: fails(lambda: aws.ec2.create_client_vpn_endpoint(**ENDPOINT_OPTIONS)),
    "aws_ec2_client_vpn_network_association": lambda aws: fails(lambda: aws.ec2.associate_client_vpn_target_network(
        ClientVpnEndpointId=CLIENT_VPN, SubnetId=aws.subnet)),
    "aws_ec2_client_vpn_authorization_rule": lambda aws: fails(lambda: aws.ec2.authorize_client_vpn_ingress(
        ClientVpnEndpointId=CLIENT_VPN, TargetNetworkCidr="10.30.0.0/16", AuthorizeAllGroups=True)),
    "aws_ec2_client_vpn_route": lambda aws: fails(lambda: aws.ec2.create_client_vpn_route(
        ClientVpnEndpointId=CLIENT_VPN, DestinationCidrBlock="10.31.0.0/16", TargetVpcSubnetId=aws.subnet)),
    "aws_eks_addon": lambda aws: fails(lambda: aws.eks.create_addon(clusterName=aws.cluster(), addonName="coredns")),
    "aws_eks_access_entry": lambda aws: fails(lambda: aws.eks.create_access_entry(clusterName=aws.cluster(), principalArn=ADMIN)),
    "aws_eks_access_policy_association": lambda aws: fails(lambda: aws.eks.associate_access_policy(
        clusterName=aws.cluster(), principalArn=ADMIN, accessScope={"type": "cluster"},
        policyArn="arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy")),
    "aws_efs_backup_policy": lambda aws: fails(lambda: aws.efs.put_backup_policy(
        FileSystemId=aws.efs.create_file_system(CreationToken="gaps-backup")["FileSystemId"],
        BackupPolicy={"Status": "ENABLED"})),
    "aws_route53_zone_association": _zone_association_fails,
    "aws_efs_file_system_policy": _file_system_policy_survives_its_deletion,
    "aws_route53_zone": _zone_is_public,
    # What the AWS provider calls for aws_eks_addon_version, and for a version change.
    "aws_eks_addon_version": lambda aws: fails(lambda: aws.eks.describe_addon_versions(
        addonName="coredns", kubernetesVersion="1.35")),
    "aws_eks_cluster.version": lambda aws: fails(lambda: aws.eks.update_cluster_version(
        name=aws.cluster(), version="1.35")),
    "aws_eks_node_group.version": lambda aws: fails(lambda: aws.eks.update_nodegroup_version(
        clusterName=aws.cluster(), nodegroupName=aws.node_group(), version="1.35")),
}
LISTED = {**UNSUPPORTED_ON_EMULATOR, **FORGOTTEN_BEFORE_DESTROY, **APPLIED_WITH_GAPS, **UNSUPPORTED_DATA_ON_EMULATOR,
          **UNAPPLIABLE_ON_EMULATOR}


@pytest.fixture(scope="module")
def aws() -> Iterator[Aws]:
    with Emulator() as emulator:
        yield Aws(emulator)


def test_every_listed_gap_has_a_probe() -> None:
    assert set(PROBES) == set(LISTED), "each entry of emulator_gaps.py needs its probe here (and only those)"


@pytest.mark.parametrize("entry", sorted(LISTED))
def test_listed_gap_is_still_a_gap(entry: str, aws: Aws) -> None:
    assert PROBES[entry](aws), f"the emulator now does what emulator_gaps.py says it cannot ({entry}: " \
                               f"{LISTED[entry]}): remove the entry and re-run the round trip"
