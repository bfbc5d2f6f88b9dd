"""Does the dated versions table (config/versions.py) still hold? Asks AWS, with your credentials.

    python -m vault_platform.ops.check_versions --region eu-west-1      # make check-versions

EKS DescribeClusterVersions gives each Kubernetes version's status and end of standard
support; EKS DescribeAddonVersions whether each add-on the clusters install has a default
version for it (the stacks take EKS's default); RDS DescribeDBEngineVersions lists the
creatable versions of each PostgreSQL major.
A row whose date differs from AWS's, or a major with no creatable version, is one line and
exit 1. moto (the emulator) implements neither call, so only the comparison is tested.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping

from vault_platform.cli import OneLineParser, one_line_errors
from vault_platform.config.versions import KUBERNETES_VERSIONS, POSTGRES_MAJOR_VERSIONS
from vault_platform.addons import eks_managed_names
from vault_platform.errors import ToolError


def kubernetes_differences(cluster_versions: Iterable[Mapping]) -> list[str]:
    """cluster_versions: DescribeClusterVersions' clusterVersions."""
    by_version = {v["clusterVersion"]: v for v in cluster_versions}
    lines = []
    for row in KUBERNETES_VERSIONS:
        aws = by_version.get(row.version)
        if aws is None:
            lines.append(f"kubernetes {row.version}: EKS no longer lists it; remove the row from config/versions.py")
            continue
        ends = aws.get("endOfStandardSupportDate")
        if ends is not None and ends.date() != row.standard_support_ends:
            lines.append(f"kubernetes {row.version}: table says {row.standard_support_ends}, EKS says {ends.date()}; "
                         "correct config/versions.py")
    return lines


def addon_differences(kubernetes_version: str, addons: Iterable[Mapping]) -> list[str]:
    """addons: DescribeAddonVersions' addons for one Kubernetes version."""
    with_default = {addon["addonName"] for addon in addons
                    if any(c.get("defaultVersion") for v in addon.get("addonVersions", []) for c in v.get("compatibilities", [])
                           if c.get("clusterVersion") == kubernetes_version)}
    return [f"kubernetes {kubernetes_version}: EKS add-on {name} has no default version for it; pin one in "
            "vault_platform/addons/ or keep the previous Kubernetes version" for name in eks_managed_names() if name not in with_default]


def postgres_differences(engine_versions: Iterable[Mapping]) -> list[str]:
    """engine_versions: DescribeDBEngineVersions' DBEngineVersions for engine postgres."""
    majors = {v.get("MajorEngineVersion") or v["EngineVersion"].split(".")[0] for v in engine_versions
              if v.get("Status", "available") == "available"}
    return [f"postgres {row.version}: RDS lists no creatable version of it; remove the row from config/versions.py"
            for row in POSTGRES_MAJOR_VERSIONS if row.version not in majors]


def check(eks, rds) -> list[str]:
    """eks, rds: boto3 clients. One line per row of the table AWS no longer confirms."""
    clusters = [v for page in eks.get_paginator("describe_cluster_versions").paginate() for v in page["clusterVersions"]]
    engines = [v for page in rds.get_paginator("describe_db_engine_versions").paginate(Engine="postgres")
               for v in page["DBEngineVersions"]]
    lines = kubernetes_differences(clusters) + postgres_differences(engines)
    for row in KUBERNETES_VERSIONS:
        addons = [a for page in eks.get_paginator("describe_addon_versions").paginate(kubernetesVersion=row.version)
                  for a in page["addons"]]
        lines += addon_differences(row.version, addons)
    return lines


class AwsDidNotAnswer(ToolError):
    """No credentials, no network, or a call the credentials may not make: one line."""


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    parser = OneLineParser(prog="python -m vault_platform.ops.check_versions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--region", default="eu-west-1")
    args = parser.parse_args(argv)
    try:  # the clients look for credentials when they are made
        lines = check(boto3.client("eks", region_name=args.region), boto3.client("rds", region_name=args.region))
    except (BotoCoreError, ClientError) as error:
        raise AwsDidNotAnswer(f"AWS did not answer in {args.region}: {error}; fix: credentials (AWS_PROFILE or the "
                              "AWS_* variables) that may call eks:DescribeClusterVersions, eks:DescribeAddonVersions "
                              "and rds:DescribeDBEngineVersions") from None
    print("\n".join(lines) or "config/versions.py matches AWS")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
