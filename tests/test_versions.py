"""The dated versions table (vault_platform/config/versions.py): the defaults are in standard
support, a version past its end is refused with the date, and every row says where its
date comes from."""

from __future__ import annotations

from datetime import date

import pytest

from vault_platform.config import environment_names, load_environment
from vault_platform.config.model import ClusterConfig, DatabaseConfig
from vault_platform.config.validate import _check_supported
from vault_platform.config.versions import KUBERNETES_VERSIONS, POSTGRES_MAJOR_VERSIONS, find
from vault_platform.errors import ConfigError


@pytest.mark.parametrize("environment", environment_names())
def test_every_environment_uses_versions_in_standard_support_today(environment: str) -> None:
    env = load_environment(environment)  # validation itself refuses a version past its end
    today = date.today()
    for version, table in ((env.tooling.cluster.kubernetes_version, KUBERNETES_VERSIONS),
                           *((app.cluster.kubernetes_version, KUBERNETES_VERSIONS) for app in env.application_clusters),
                           (env.database_cluster.database.engine_version, POSTGRES_MAJOR_VERSIONS)):
        row = find(table, version)
        assert row is not None and row.standard_support_ends >= today, (environment, version)


def test_defaults_are_rows_in_support_and_postgres_is_a_major_version() -> None:
    assert find(KUBERNETES_VERSIONS, ClusterConfig(name="x").kubernetes_version).standard_support_ends >= date.today()
    assert "." not in DatabaseConfig().engine_version


def test_every_row_is_dated_and_sourced_from_aws_documentation() -> None:
    for row in (*KUBERNETES_VERSIONS, *POSTGRES_MAJOR_VERSIONS):
        assert row.source.startswith("https://docs.aws.amazon.com/"), row


def test_a_version_is_refused_the_day_after_its_standard_support_ends() -> None:
    row = KUBERNETES_VERSIONS[0]
    _check_supported("cluster.kubernetes_version", row.version, KUBERNETES_VERSIONS, "EKS Kubernetes version",
                     today=row.standard_support_ends)
    with pytest.raises(ConfigError) as error:
        _check_supported("cluster.kubernetes_version", row.version, KUBERNETES_VERSIONS, "EKS Kubernetes version",
                         today=date.fromordinal(row.standard_support_ends.toordinal() + 1))
    message = str(error.value)
    assert f"left AWS standard support on {row.standard_support_ends.isoformat()}" in message
    assert "\n" not in message and "fix: use one in standard support" in message


def test_check_versions_reports_a_changed_date_and_a_retired_major() -> None:
    """On responses shaped as AWS documents them (moto implements neither call)."""
    from datetime import datetime

    from vault_platform.ops.check_versions import kubernetes_differences, postgres_differences

    clusters = [{"clusterVersion": row.version, "endOfStandardSupportDate": datetime.combine(row.standard_support_ends, datetime.min.time())}
                for row in KUBERNETES_VERSIONS]
    assert kubernetes_differences(clusters) == []
    clusters[-1]["endOfStandardSupportDate"] = datetime(2030, 1, 1)
    (line,) = kubernetes_differences(clusters)
    assert KUBERNETES_VERSIONS[-1].version in line and "2030-01-01" in line
    engines = [{"EngineVersion": f"{row.version}.1", "MajorEngineVersion": row.version, "Status": "available"}
               for row in POSTGRES_MAJOR_VERSIONS]
    assert postgres_differences(engines) == []
    assert postgres_differences(engines[1:]) == [f"postgres {POSTGRES_MAJOR_VERSIONS[0].version}: RDS lists no creatable "
                                                 "version of it; remove the row from config/versions.py"]


def test_check_versions_reports_an_addon_without_a_default_for_a_version() -> None:
    from vault_platform.ops.check_versions import addon_differences
    from vault_platform.constructs.eks import EKS_ADDONS

    def addon(name: str, default: bool) -> dict:
        return {"addonName": name, "addonVersions": [{"addonVersion": "v1.0.0-eksbuild.1", "compatibilities": [
            {"clusterVersion": "1.35", "defaultVersion": default}]}]}
    assert addon_differences("1.35", [addon(name, True) for name in EKS_ADDONS]) == []
    (line,) = addon_differences("1.35", [addon(name, name != "coredns") for name in EKS_ADDONS])
    assert "coredns" in line and "1.35" in line


def test_check_versions_end_to_end_on_responses_botocore_validates() -> None:
    """botocore's Stubber checks each request and response against the service model, so the
    stand-in answers have AWS's documented shape (moto implements none of these calls)."""
    from datetime import datetime

    import boto3
    from botocore.stub import Stubber

    from vault_platform.ops.check_versions import check
    from vault_platform.constructs.eks import EKS_ADDONS

    eks = boto3.client("eks", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    rds = boto3.client("rds", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(eks) as eks_stub, Stubber(rds) as rds_stub:
        eks_stub.add_response("describe_cluster_versions", {"clusterVersions": [
            {"clusterVersion": row.version, "endOfStandardSupportDate": datetime.combine(row.standard_support_ends, datetime.min.time())}
            for row in KUBERNETES_VERSIONS]}, {})
        rds_stub.add_response("describe_db_engine_versions", {"DBEngineVersions": [
            {"EngineVersion": f"{row.version}.9", "MajorEngineVersion": row.version, "Status": "available"}
            for row in POSTGRES_MAJOR_VERSIONS[1:]]}, {"Engine": "postgres"})
        for row in KUBERNETES_VERSIONS:
            eks_stub.add_response("describe_addon_versions", {"addons": [
                {"addonName": name, "addonVersions": [{"addonVersion": "v1.0.0-eksbuild.1", "compatibilities": [
                    {"clusterVersion": row.version, "defaultVersion": True}]}]} for name in EKS_ADDONS]},
                {"kubernetesVersion": row.version})
        lines = check(eks, rds)
    assert lines == [f"postgres {POSTGRES_MAJOR_VERSIONS[0].version}: RDS lists no creatable version of it; "
                     "remove the row from config/versions.py"]
