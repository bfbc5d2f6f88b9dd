"""What the emulator apply leaves out, and how a re-plan is judged against the allowlist."""

from __future__ import annotations

import copy

from tests.synth import StackJson
from vault_platform.ops.emulator_gaps import (
    PERPETUAL_DIFFS,
    UNSUPPORTED_DATA_ON_EMULATOR,
    UNSUPPORTED_ON_EMULATOR,
    check_replan,
    emulator_copy,
)


def _types(addresses: tuple[str, ...]) -> set[str]:
    """Resource types, and data sources as data.<type>."""
    return {".".join(address.split(".")[:2 if address.startswith("data.") else 1]) for address in addresses}


def test_tooling_copy_drops_only_unsupported_types(tooling: StackJson) -> None:
    original = copy.deepcopy(tooling.data)
    result = emulator_copy(tooling.data)
    assert tooling.data == original, "the real configuration must not change"
    assert _types(result.dropped) == {"data.aws_eks_addon_version", "aws_eks_addon", "aws_efs_backup_policy"}
    assert "aws_eks_addon" not in result.stack_json["resource"]
    assert "aws_eks_addon_version" not in result.stack_json.get("data", {})
    # The emulator makes the cluster security group (emulator_patches), so rules on it stay.
    assert any("nfs-from-cluster" in name for name in result.stack_json["resource"]["aws_vpc_security_group_ingress_rule"])
    assert "aws_eks_cluster" in result.stack_json["resource"]  # everything else stays


def test_application_copy_drops_only_the_addons_and_the_zone_association(application: StackJson) -> None:
    result = emulator_copy(application.data)
    assert _types(result.dropped) == {"data.aws_eks_addon_version", "aws_eks_addon", "aws_route53_zone_association"}
    rules = {name.rsplit("_", 1)[0] for name in result.stack_json["resource"]["aws_vpc_security_group_ingress_rule"]}
    assert {"database_from-application-cluster", "database_from-vault", "kubernetes-api-from-vault"} <= rules
    assert "aws_db_instance" in result.stack_json["resource"]


def test_dependents_and_outputs_of_a_dropped_resource_go_too() -> None:
    stack = {
        "resource": {
            "aws_eks_addon": {"a": {"addon_name": "coredns"}},
            "aws_iam_role": {"r": {"name": "${aws_eks_addon.a.arn}"}, "keep": {"name": "x"}},
            "aws_iam_role_policy": {"p": {"role": "${aws_iam_role.r.id}"}},
        },
        "output": {"o": {"value": "${aws_iam_role.r.arn}"}, "k": {"value": "${aws_iam_role.keep.arn}"}},
    }
    result = emulator_copy(stack)
    assert set(result.dropped) == {"aws_eks_addon.a", "aws_iam_role.r", "aws_iam_role_policy.p", "output.o"}
    assert result.stack_json["resource"] == {"aws_iam_role": {"keep": {"name": "x"}}}


def test_an_unreadable_data_source_goes_with_what_reads_it() -> None:
    stack = {
        "data": {"aws_eks_addon_version": {"v": {"addon_name": "coredns", "kubernetes_version": "1.35"}},
                 "aws_region": {"r": {}}},
        "resource": {"aws_iam_role": {"r": {"name": "${data.aws_eks_addon_version.v.version}"}, "keep": {"name": "x"}}},
    }
    result = emulator_copy(stack)
    assert set(result.dropped) == {"data.aws_eks_addon_version.v", "aws_iam_role.r"}
    assert result.stack_json["data"] == {"aws_region": {"r": {}}}
    assert result.stack_json["resource"] == {"aws_iam_role": {"keep": {"name": "x"}}}


def test_every_gap_has_a_reason() -> None:
    assert all(reason.strip() for reason in UNSUPPORTED_ON_EMULATOR.values())
    assert all(reason.strip() for reason in UNSUPPORTED_DATA_ON_EMULATOR.values())
    assert all(reason.strip() for attrs in PERPETUAL_DIFFS.values() for reason in attrs.values())


def _change(address: str, actions: list[str], before: dict, after: dict, unknown: dict | None = None,
            replace_paths: list | None = None) -> dict:
    rtype = address.split(".")[0]
    return {"address": address, "type": rtype, "mode": "managed",
            "change": {"actions": actions, "before": before, "after": after, "after_unknown": unknown or {},
                       "replace_paths": replace_paths}}


def test_replan_allows_listed_diffs_and_their_cascade_only() -> None:
    plan = {"resource_changes": [
        _change("aws_eks_cluster.c", ["delete", "create"], {"access_config": []}, {"access_config": [{"x": True}]},
                replace_paths=[["access_config", 0, "x"]]),
        _change("aws_iam_role.r", ["update"], {"assume_role_policy": "old"}, {}, {"assume_role_policy": True}),
        _change("aws_vpc.v", ["no-op"], {}, {}),
    ]}
    result = check_replan(plan)
    assert result.unexplained == ()
    assert ("aws_eks_cluster", "access_config") in result.seen


def test_replan_flags_real_drift() -> None:
    plan = {"resource_changes": [
        _change("aws_kms_key.k", ["update"], {"description": "a"}, {"description": "b"}),
        _change("aws_s3_bucket.b", ["create"], {}, {"bucket": "x"}),
        _change("aws_iam_role.r", ["update"], {"assume_role_policy": "old"}, {}, {"assume_role_policy": True}),
    ]}
    unexplained = check_replan(plan).unexplained
    assert any("aws_kms_key.k: update of description" in u for u in unexplained)
    assert any("aws_s3_bucket.b: create" in u for u in unexplained)
    assert any("aws_iam_role.r" in u for u in unexplained), "unknowns without a listed replacement are drift"
