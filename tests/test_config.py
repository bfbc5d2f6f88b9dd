"""Environment files: the default loads; every kind of bad input stops synth with one line
that names the field, the value and the fix, before any construct is built."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import drop, set_at, with_change


def both_changes(*changes):
    def change(data: dict) -> None:
        for each in changes:
            each(data)
    return change
from vault_platform.config import load_environment, parse_environment
from vault_platform.config.load import ENVIRONMENTS_DIR
from vault_platform.errors import ConfigError


def test_default_environment_loads_frozen_and_complete() -> None:
    env = load_environment()
    assert env.name == "demo" and env.region == "eu-west-1"
    assert env.zones == () and env.availability_zone_count == 3 and env.partition == "aws"  # zones: AWS's, at plan time
    assert env.cluster_name(env.tooling.cluster) == "demo-tooling"
    assert env.tooling.cluster.public_access_cidrs == ()
    with pytest.raises(AttributeError):
        env.region = "us-east-1"  # type: ignore[misc]
    with pytest.raises(TypeError):
        env.tags["owner"] = "someone"  # type: ignore[index]


# (case, change, field named in the message, value named, words of the fix)
BAD_INPUT = [
    ("invalid CIDR", set_at("tooling.network.cidr", "10.10.0.0/33"), "tooling.network.cidr", "10.10.0.0/33", "e.g. 10.10.0.0/16"),
    ("CIDR with host bits", set_at("tooling.network.cidr", "10.10.1.0/16"), "tooling.network.cidr", "10.10.1.0/16", "network address"),
    ("public CIDR", set_at("application.network.cidr", "8.8.0.0/16"), "application.network.cidr", "8.8.0.0/16", "10.0.0.0/8"),
    ("VPC too small", set_at("tooling.network.cidr", "10.10.0.0/24"), "tooling.network.cidr", "10.10.0.0/24", "/16 to /20"),
    ("overlapping VPCs", set_at("application.network.cidr", "10.10.128.0/17"), "application.network.cidr", "10.10.128.0/17", "outside the tooling VPC"),
    ("more zones than any region has", set_at("availability_zone_count", 7), "availability_zone_count", "7", "from 2 to 6"),
    ("one zone", set_at("availability_zone_count", 1), "availability_zone_count", "1", "from 2 to 6"),
    ("unknown region", set_at("region", "mars-north-1"), "region", "mars-north-1", "e.g. eu-west-1, sa-east-1 or us-gov-west-1"),
    ("region of a partition the stacks are not built for", set_at("region", "cn-north-1"), "region", "cn-north-1", "aws, aws-us-gov"),
    ("pinned zones fewer than the count", set_at("zones", ["eu-west-1a", "eu-west-1b"]), "zones", "eu-west-1a", "availability_zone_count = 2"),
    ("pinned zone of another region", set_at("zones", ["eu-west-1a", "eu-west-1b", "us-east-1a"]), "zones[2]", "us-east-1a", "such as eu-west-1a"),
    ("pinned zone EKS cannot use", both_changes(set_at("region", "us-east-1"), set_at("zones", ["use1-az1", "use1-az2", "use1-az3"])), "zones[2]", "use1-az3", "another zone"),
    ("pinned names and IDs mixed", set_at("zones", ["eu-west-1a", "eu-west-1b", "euw1-az3"]), "zones", "euw1-az3", "names only or IDs only"),
    ("cluster name over EKS's limit", set_at("tooling.cluster.name", "t" * 101), "tooling.cluster.name", "t" * 101, "shorten"),
    ("cluster name too long for IAM role names", set_at("tooling.cluster.name", "t" * 40), "tooling.cluster.name", "t" * 40, "within 35 characters"),
    ("cluster name with capitals", set_at("tooling.cluster.name", "Tooling"), "tooling.cluster.name", "Tooling", "rename it"),
    ("same cluster names", set_at("application.cluster.name", "tooling"), "application.cluster.name", "tooling", "different names"),
    ("unsupported Kubernetes version", set_at("tooling.cluster.kubernetes_version", "1.21"), "tooling.cluster.kubernetes_version", "1.21", "1.35"),
    # An add-on version as EKS writes it (v<semver>-eksbuild.<n>), for an add-on the cluster runs.
    ("add-on version without its build", set_at("tooling.cluster.addon_versions", {"coredns": "1.11.4"}), "tooling.cluster.addon_versions.coredns", "1.11.4", "e.g. v1.19.2-eksbuild.1"),
    ("add-on version of an add-on the cluster lacks", set_at("application.cluster.addon_versions", {"aws-efs-csi-driver": "v2.1.0-eksbuild.1"}), "application.cluster.addon_versions.aws-efs-csi-driver", "v2.1.0-eksbuild.1", "pin one of aws-ebs-csi-driver, coredns, kube-proxy, vpc-cni"),
    ("missing required field", drop("region"), "region", "<missing>", "add 'region = ...'"),
    ("missing VPC range", drop("tooling.network.cidr"), "tooling.network.cidr", "<missing>", "add 'cidr = ...'"),
    ("unknown top-level key", set_at("regoin", "eu-west-1"), "regoin", "eu-west-1", "did you mean 'region'"),
    ("unknown nested key", set_at("tooling.cluster.kubernetes_versoin", "1.33"), "tooling.cluster.kubernetes_versoin", "1.33", "did you mean 'kubernetes_version'"),
    ("wrong type", set_at("availability_zone_count", "3"), "availability_zone_count", "3", "without quotes"),
    ("bool as string", set_at("tooling.network.single_nat_gateway", "yes"), "tooling.network.single_nat_gateway", "yes", "true or false"),
    ("API open to the internet", set_at("tooling.cluster.public_access_cidrs", ["0.0.0.0/0"]), "tooling.cluster.public_access_cidrs[0]", "0.0.0.0/0", "leave the list empty"),
    ("bad account id", set_at("account_id", "12345"), "account_id", "12345", "12-digit"),
    ("node group sizes inverted", set_at("tooling.cluster.node_groups", [{"name": "system", "min_size": 5, "desired_size": 3, "max_size": 6}]), "tooling.cluster.node_groups[0].desired_size", "3", "adjust min_size"),
    # Each size rule on the field that breaks it (the message used to name desired_size for all).
    ("node group max_size zero", set_at("tooling.cluster.node_groups", [{"name": "system", "min_size": 0, "desired_size": 0, "max_size": 0}]), "tooling.cluster.node_groups[0].max_size", "0", "set max_size to 1 or more"),
    ("node group min_size above max_size", set_at("tooling.cluster.node_groups", [{"name": "system", "min_size": 7, "desired_size": 7, "max_size": 6}]), "tooling.cluster.node_groups[0].min_size", "7", "lower min_size to 6 or less"),
    ("node group desired_size above max_size", set_at("tooling.cluster.node_groups", [{"name": "system", "min_size": 1, "desired_size": 9, "max_size": 6}]), "tooling.cluster.node_groups[0].desired_size", "9", "lower desired_size to 1..6"),
    ("node group negative min_size", set_at("tooling.cluster.node_groups", [{"name": "system", "min_size": -1, "desired_size": 1, "max_size": 6}]), "tooling.cluster.node_groups[0].min_size", "-1", "set min_size to 0"),
    # Examples that fit the field: an application cluster is never "tooling", its range not tooling's.
    ("application cluster name with capitals", set_at("application.cluster.name", "Payments"), "application.cluster.name", "Payments", "e.g. 'payments'"),
    ("application VPC range unparsable", set_at("application.network.cidr", "10.20.0.0/33"), "application.network.cidr", "10.20.0.0/33", "e.g. 10.11.0.0/16"),
    ("no node groups", set_at("tooling.cluster.node_groups", []), "tooling.cluster.node_groups", "[]", "add a [[...node_groups]]"),
    ("bad zone name", set_at("tooling.private_zone_name", "Tooling_Internal"), "tooling.private_zone_name", "Tooling_Internal", "tooling.internal"),
    ("bad log retention", set_at("tooling.cluster.log_retention_days", 42), "tooling.cluster.log_retention_days", "42", "use one of"),
    ("reserved database user", set_at("application.database.master_username", "postgres"), "application.database.master_username", "postgres", "vault_admin"),
    ("backups off", set_at("application.database.backup_retention_days", 0), "application.database.backup_retention_days", "0", "use e.g. 7"),
]


@pytest.mark.parametrize(("case", "change", "field", "value", "fix"), BAD_INPUT, ids=[case[0] for case in BAD_INPUT])
def test_bad_input_is_one_line_naming_field_value_and_fix(case: str, change: Callable, field: str, value: str, fix: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_environment(with_change(change), source="environments/test.toml")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"environments/test.toml: {field} = "), message
    assert repr(value) in message or value in message, message
    assert "; fix: " in message and fix in message.split("; fix: ", 1)[1], message
    assert raised.value.field == field


def test_unknown_environment_names_the_known_ones(tmp_path: Path) -> None:
    (tmp_path / "prod.toml").write_text((ENVIRONMENTS_DIR / "default.toml").read_text())
    with pytest.raises(ConfigError, match=r"environment = 'staging': no file environments/staging.toml; fix: pick one of: prod"):
        load_environment("staging", directory=tmp_path)


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text('region = "eu-west-1\n')
    with pytest.raises(ConfigError, match=r"file = 'environments/broken.toml': is not valid TOML"):
        load_environment("broken", directory=tmp_path)


def test_loading_an_environment_starts_no_jsii_runtime() -> None:
    """Validation reads the add-on registry (the longest IAM role name), which is plain data
    (constructs/helm_chart.py): refusing a bad file must not first start Node and load
    cdktf's bindings. Checked in a fresh interpreter, by what it imported, not timed."""
    import subprocess
    import sys

    probe = ("import sys; from vault_platform.config import load_environment; load_environment('multi'); "
             "print(sorted(m for m in ('cdktf', 'jsii', 'constructs') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert loaded.stdout.strip() == "[]", loaded.stdout
