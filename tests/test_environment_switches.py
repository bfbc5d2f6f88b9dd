"""The choices an environment makes show up in the synthesized JSON: one NAT gateway instead
of one per zone, a public API endpoint limited to listed CIDRs,
extra admins by access entry, and no account other than the named one."""

from __future__ import annotations

import pytest

from tests.helpers import environment_variant, set_at
from tests.synth import StackJson, synth_config

ADMIN = "arn:aws:iam::111122223333:role/platform-admins"


@pytest.fixture(scope="module")
def variant(tmp_path_factory: pytest.TempPathFactory) -> dict[str, StackJson]:
    env = environment_variant(
        # Two zones are refused at synth since Vault's raft peers need one zone each
        # (gitops/scheduling.py; tests/test_schedulable.py): the zone count stays at 3.
        set_at("account_id", "111122223333"),
        set_at("tooling.network.single_nat_gateway", True),
        set_at("tooling.cluster.public_access_cidrs", ["203.0.113.0/24"]),
        set_at("tooling.cluster.admin_principal_arns", [ADMIN]),
    )
    return synth_config(env, "variant", tmp_path_factory.mktemp("variant") / "cdktf.out")


def test_other_environments_get_namespaced_stack_ids(variant: dict[str, StackJson]) -> None:
    assert {"variant-tooling", "variant-application"} <= set(variant)


def test_single_nat_gateway(variant: dict[str, StackJson]) -> None:
    tooling, application = variant["variant-tooling"], variant["variant-application"]
    assert len(tooling.resources("aws_nat_gateway")) == 1
    assert len(tooling.resources("aws_eip")) == 1
    nat_routes = [r for r in tooling.resources("aws_route").values() if "nat_gateway_id" in r]
    assert len(nat_routes) == 3 and len({r["nat_gateway_id"] for r in nat_routes}) == 1
    assert len(application.resources("aws_nat_gateway")) == 3  # its own switch is still off
    assert {s["availability_zone"] for s in tooling.resources("aws_subnet").values()} == {
        f"${{element(data.aws_availability_zones.zones.names, {i})}}" for i in range(3)}
    assert tooling.data["data"]["aws_availability_zones"]["zones"]["lifecycle"]["postcondition"][0]["condition"] == \
        "${length(self.names) >= 3}"


def test_public_endpoint_opens_only_to_listed_cidrs(variant: dict[str, StackJson]) -> None:
    vpc_config = variant["variant-tooling"].one("aws_eks_cluster")["vpc_config"]
    assert vpc_config["endpoint_public_access"] is True and vpc_config["endpoint_private_access"] is True
    assert vpc_config["public_access_cidrs"] == ["203.0.113.0/24"]
    assert variant["variant-application"].one("aws_eks_cluster")["vpc_config"]["endpoint_public_access"] is False


def test_admins_get_access_entries_with_the_cluster_admin_policy(variant: dict[str, StackJson]) -> None:
    tooling = variant["variant-tooling"]
    assert tooling.one("aws_eks_access_entry")["principal_arn"] == ADMIN
    association = tooling.one("aws_eks_access_policy_association")
    assert association["policy_arn"].endswith("cluster-access-policy/AmazonEKSClusterAdminPolicy")
    assert association["access_scope"] == {"type": "cluster"}
    assert not variant["variant-application"].resources("aws_eks_access_entry")


def test_named_account_is_enforced_and_used_literally(variant: dict[str, StackJson]) -> None:
    tooling = variant["variant-tooling"]
    assert tooling.data["provider"]["aws"][0]["allowed_account_ids"] == ["111122223333"]
    assert "aws_caller_identity" not in tooling.data.get("data", {})
    key_policy = next(iter(tooling.resources("aws_kms_key").values()))["policy"]
    assert "arn:aws:iam::111122223333:root" in key_policy
