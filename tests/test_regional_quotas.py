"""Quotas per account and region (config/quotas.py): the counts are what the stacks create,
every shipped environment fits what its file says the account has, and an environment that
does not fit (alone, with the default VPC, or with the other files of its account and
region) is refused with one line naming the quota, the count, its Service Quotas code and
the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers import DEFAULT, ENVIRONMENTS_DIR, drop, environment_data, set_at, with_change
from tests.synth import StackJson
from vault_platform.app import stack_order
from vault_platform.config import environment_names, load_environment, parse_environment
from vault_platform.config.quotas import (
    ELASTIC_IPS_PER_REGION,
    INTERNET_GATEWAYS_PER_REGION,
    NAT_GATEWAYS_PER_ZONE,
    VPCS_PER_REGION,
    regional_uses,
)
from vault_platform.errors import ConfigError


@pytest.mark.parametrize("environment", environment_names())
def test_regional_counts_are_what_the_stacks_create(environment: str, all_environment_stacks: dict[str, StackJson]) -> None:
    env = load_environment(environment)
    stacks = [all_environment_stacks[sid] for sid in stack_order(env, environment)]
    uses = {use.quota: use.count for use in regional_uses(env)}

    def count(rtype: str) -> int:
        return sum(len(stack.resources(rtype)) for stack in stacks)
    assert uses[VPCS_PER_REGION] == count("aws_vpc")
    assert uses[INTERNET_GATEWAYS_PER_REGION] == count("aws_internet_gateway")
    assert uses[ELASTIC_IPS_PER_REGION] == count("aws_eip") == count("aws_nat_gateway")
    # NAT gateways of zone 0: the subnet each sits in is public-0 of its VPC.
    zone0 = sum(1 for stack in stacks for body in stack.resources("aws_nat_gateway").values()
                if "public-0" in body["subnet_id"])
    assert uses[NAT_GATEWAYS_PER_ZONE] == zone0


def test_the_default_environment_without_its_quota_line_needs_an_elastic_ip_increase() -> None:
    """The default environment's first apply failed with AddressLimitExceeded on a fresh
    account: 6 NAT gateways, 5 Elastic IPs. Its file now states the increase it needs."""
    with pytest.raises(ConfigError) as raised:
        parse_environment(with_change(drop("quotas")), source="environments/default.toml")
    message = str(raised.value)
    assert raised.value.field == "quotas.elastic_ips_per_region"
    assert "needs 6 in eu-west-1" in message and "'EC2-VPC Elastic IPs' of 5" in message and "L-0263D0A3" in message
    assert "set quotas.elastic_ips_per_region = 6" in message and "single_nat_gateway = true" in message
    assert DEFAULT["quotas"] == {"elastic_ips_per_region": 6}


def test_single_nat_gateways_fit_a_fresh_account() -> None:
    parse_environment(with_change(drop("quotas"), set_at("tooling.network.single_nat_gateway", True),
                                  set_at("application.network.single_nat_gateway", True)))


def test_the_default_vpc_counts_against_vpcs_and_internet_gateways() -> None:
    multi = environment_data("multi")
    parse_environment(multi)  # 4 VPCs + the default VPC: exactly 5
    extra = dict(multi["application_clusters"][-1], cluster=dict(multi["application_clusters"][-1]["cluster"], name="extra"),
                 network={"cidr": "10.34.0.0/16", "single_nat_gateway": True})
    multi["application_clusters"].append(extra)
    with pytest.raises(ConfigError) as raised:
        parse_environment(multi)
    assert raised.value.field == "quotas.vpcs_per_region"
    assert "(5 VPCs (one per cluster) + 1 of the default VPC)" in str(raised.value) and "L-F678F1CE" in str(raised.value)
    assert "delete the region's default VPC and set quotas.default_vpc = false" in str(raised.value)
    multi["quotas"] = {"default_vpc": False}
    parse_environment(multi)


def test_environments_of_one_account_and_region_are_summed(tmp_path: Path) -> None:
    staging = (ENVIRONMENTS_DIR / "staging.toml").read_text()  # single NAT in both VPCs: 2 VPCs, 2 Elastic IPs

    def write(name: str, text: str) -> None:
        (tmp_path / f"{name}.toml").write_text(text.replace('name = "staging"', f'name = "{name}"', 1))
    write("staging", staging)
    write("staging2", staging)
    write("elsewhere", staging.replace("111122223333", "999999999999"))  # another account: not summed
    load_environment("staging", tmp_path)  # 2 + 2 VPCs + the default VPC = 5
    write("staging3", staging)
    with pytest.raises(ConfigError) as raised:
        load_environment("staging", tmp_path)
    message = str(raised.value)
    assert message.startswith("environments/staging.toml: quotas.vpcs_per_region = 5:"), message
    assert "of account 111122223333" in message and "2 of environment staging2" in message and "2 of environment staging3" in message
    assert "elsewhere" not in message


def test_a_quota_below_one_is_refused() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_environment(with_change(set_at("quotas.nat_gateways_per_zone", 0)))
    assert raised.value.field == "quotas.nat_gateways_per_zone" and "AWS's default is 5" in str(raised.value)
