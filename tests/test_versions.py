"""The dated versions table (vault_platform/config/versions.py): the defaults are in standard
support, a version past its end is refused with the date, and every row says where its
date comes from."""

from __future__ import annotations

import dataclasses
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


def test_a_postgres_major_is_refused_the_day_after_its_standard_support_ends() -> None:
    row = POSTGRES_MAJOR_VERSIONS[0]
    _check_supported("database.engine_version", row.version, POSTGRES_MAJOR_VERSIONS, "RDS PostgreSQL major version",
                     today=row.standard_support_ends)
    with pytest.raises(ConfigError) as error:
        _check_supported("database.engine_version", row.version, POSTGRES_MAJOR_VERSIONS, "RDS PostgreSQL major version",
                         today=date.fromordinal(row.standard_support_ends.toordinal() + 1))
    message = str(error.value)
    assert f"left AWS standard support on {row.standard_support_ends.isoformat()}" in message
    assert "\n" not in message and "fix: use one in standard support" in message


# A lifecycle, not a cliff: the day after standard support an EKS version still synthesizes,
# with a notice (dates and cost); the day after extended support it is refused with its dates.
# Before, synth failed the day standard support ended, and 1.31 was "not an EKS version".
def _day_after(day: date) -> date:
    return date.fromordinal(day.toordinal() + 1)


def test_an_eks_version_in_extended_support_synthesizes_with_a_notice_of_date_and_cost() -> None:
    from vault_platform.config.validate import kubernetes_notices

    row = find(KUBERNETES_VERSIONS, "1.34")
    day = _day_after(row.standard_support_ends)
    _check_supported("cluster.kubernetes_version", "1.34", KUBERNETES_VERSIONS, "EKS Kubernetes version", today=day)
    env = load_environment("default")
    assert kubernetes_notices(env, today=day) == ()  # 1.35 is in standard support then
    old = dataclasses.replace(env, tooling=dataclasses.replace(
        env.tooling, cluster=dataclasses.replace(env.tooling.cluster, kubernetes_version="1.34")))
    notices = kubernetes_notices(old, today=day)
    assert notices == (f"tooling.cluster.kubernetes_version 1.34 is in EKS extended support since {day.isoformat()}: "
                       "$0.60 per cluster hour instead of $0.10 (https://aws.amazon.com/eks/pricing/); EKS upgrades the "
                       "control plane itself after 2027-12-02; upgrade to 1.35",)


def test_an_eks_version_past_extended_support_is_refused_with_its_dates() -> None:
    row = find(KUBERNETES_VERSIONS, "1.31")
    _check_supported("cluster.kubernetes_version", "1.31", KUBERNETES_VERSIONS, "EKS Kubernetes version",
                     today=row.extended_support_ends)
    with pytest.raises(ConfigError) as error:
        _check_supported("cluster.kubernetes_version", "1.31", KUBERNETES_VERSIONS, "EKS Kubernetes version",
                         today=_day_after(row.extended_support_ends))
    message = str(error.value)
    assert "left EKS extended support on 2026-11-26 (standard support ended 2025-11-26" in message
    assert "not an EKS" not in message and "fix: use one in standard support" in message


def test_a_version_older_than_the_table_says_aws_no_longer_runs_it() -> None:
    with pytest.raises(ConfigError) as error:
        _check_supported("cluster.kubernetes_version", "1.21", KUBERNETES_VERSIONS, "EKS Kubernetes version")
    assert "is older than every EKS Kubernetes version AWS still runs: the oldest, 1.29, left support on 2026-03-23" in str(error.value)
    with pytest.raises(ConfigError) as error:
        _check_supported("cluster.kubernetes_version", "2.0", KUBERNETES_VERSIONS, "EKS Kubernetes version")
    assert "is not an EKS Kubernetes version" in str(error.value)


def test_the_plan_summary_shows_the_notices() -> None:
    from vault_platform.ops.plan_summary import render_markdown

    markdown = render_markdown([], title="t", notices=("tooling.cluster.kubernetes_version 1.34 is in EKS extended support",))
    assert "> **Kubernetes versions in EKS extended support:**" in markdown and "> - tooling.cluster" in markdown


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
    from vault_platform.addons import eks_managed_names

    def addon(name: str, default: bool) -> dict:
        return {"addonName": name, "addonVersions": [{"addonVersion": "v1.0.0-eksbuild.1", "compatibilities": [
            {"clusterVersion": "1.35", "defaultVersion": default}]}]}
    assert addon_differences("1.35", [addon(name, True) for name in eks_managed_names()]) == []
    (line,) = addon_differences("1.35", [addon(name, name != "coredns") for name in eks_managed_names()])
    assert "coredns" in line and "1.35" in line


def test_check_versions_end_to_end_on_responses_botocore_validates() -> None:
    """botocore's Stubber checks each request and response against the service model, so the
    stand-in answers have AWS's documented shape (moto implements none of these calls)."""
    from datetime import datetime

    import boto3
    from botocore.stub import Stubber

    from vault_platform.ops.check_versions import check
    from vault_platform.addons import eks_managed_names

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
                    {"clusterVersion": row.version, "defaultVersion": True}]}]} for name in eks_managed_names()]},
                {"kubernetesVersion": row.version})
        lines = check(eks, rds)
    assert lines == [f"postgres {POSTGRES_MAJOR_VERSIONS[0].version}: RDS lists no creatable version of it; "
                     "remove the row from config/versions.py"]
