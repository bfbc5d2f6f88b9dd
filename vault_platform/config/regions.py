"""Which regions exist in which partition, and which availability zones EKS cannot use.

Zone names are not listed here any more: they map to different physical zones in each
account, and which zones an account has is AWS's to say. The stacks read them at plan time
(``aws_availability_zones``: available zones of type availability-zone, so no Local or
Wavelength Zone, without EKS_UNSUPPORTED_ZONE_IDS), or take the names or zone IDs an
environment file pins (``zones``). The count is the file's ``availability_zone_count``, so
subnet ranges and per-zone resources are still computed offline.

REGIONS_BY_PARTITION, read 2026-12-05 from the partitions AWS publishes for its SDKs
(botocore 1.35.99 ``data/endpoints.json``: partitions aws, aws-cn, aws-us-gov) and the AWS
General Reference, "AWS Regions"
(https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html).
tests/test_regions.py compares it with the installed botocore's data, so a region AWS adds
shows up as a failing test, not as "not a region".
"""

from __future__ import annotations

REGIONS_BY_PARTITION: dict[str, tuple[str, ...]] = {
    "aws": (
        "af-south-1", "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1", "ap-south-2",
        "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-7",
        "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2",
        "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1", "me-central-1", "me-south-1", "mx-central-1",
        "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
    ),
    "aws-cn": ("cn-north-1", "cn-northwest-1"),
    "aws-us-gov": ("us-gov-east-1", "us-gov-west-1"),
}

# The partitions the stacks are built for. aws-cn is not yet: its service principals
# (ec2.amazonaws.com.cn) and VPC endpoint service names (cn.com.amazonaws.<region>.<service>)
# differ from the other two, and nothing here writes them.
BUILT_FOR = ("aws", "aws-us-gov")

# Zones where EKS cannot place a control plane (UnsupportedAvailabilityZoneException):
# Amazon EKS user guide, "VPC and subnet requirements"
# (https://docs.aws.amazon.com/eks/latest/userguide/network-reqs.html), read 2026-12-05.
EKS_UNSUPPORTED_ZONE_IDS = ("use1-az3", "usw1-az2", "cac1-az3")

# Every region has at least 3 zones, at most 6; EKS needs subnets in 2. subnet_layout
# (constructs/vpc.py) has room for 7.
MIN_ZONES, MAX_ZONES = 2, 6


def partition_of(region: str) -> str | None:
    return next((partition for partition, regions in REGIONS_BY_PARTITION.items() if region in regions), None)
