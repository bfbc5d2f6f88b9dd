"""The reviewer's summary: counts by type, protected replacements and deletions first."""

from __future__ import annotations

from tests.synth import StackJson
from vault_platform.ops.plan_summary import StackPlan, protected_addresses, render_markdown, summarize


def _rc(address: str, actions: list[str]) -> dict:
    return {"address": address, "type": address.split(".")[0], "mode": "managed", "change": {"actions": actions}}


PLAN = {"resource_changes": [
    _rc("aws_kms_key.k", ["delete", "create"]),
    _rc("aws_efs_file_system.f", ["delete"]),
    _rc("aws_iam_role.a", ["create"]),
    _rc("aws_iam_role.b", ["create"]),
    _rc("aws_iam_role.c", ["update"]),
    _rc("aws_vpc.v", ["no-op"]),
    {"address": "data.aws_caller_identity.c", "type": "aws_caller_identity", "mode": "data", "change": {"actions": ["read"]}},
]}


def test_counts_per_action_and_type() -> None:
    plan = summarize("tooling", PLAN)
    assert (plan.count("create"), plan.count("update"), plan.count("replace"), plan.count("delete")) == (2, 1, 1, 1)
    assert plan.by_type()["aws_iam_role"] == {"create": 2, "update": 1}
    assert plan.one_line() == "tooling: 2 to create, 1 to update, 1 to replace, 1 to delete"


def test_protected_replacements_and_deletions_are_called_out_before_anything_else() -> None:
    plan = summarize("tooling", PLAN, frozenset({"aws_kms_key.k", "aws_efs_file_system.f"}))
    markdown = render_markdown([plan, StackPlan("vpn", "skipped", reason="provider hashicorp/tls missing")], title="T")
    warning = markdown.index("2 protected resource(s) would be replaced or destroyed")
    assert warning < markdown.index("| stack |")
    assert "**replace** `aws_kms_key.k`" in markdown[:markdown.index("| stack |")]
    assert "| `aws_iam_role` | 2 | 1 | 0 | 0 |" in markdown
    assert "| `vpn` | skipped |" in markdown and "provider hashicorp/tls missing" in markdown


def test_no_warning_when_only_unprotected_resources_change() -> None:
    assert "Warning" not in render_markdown([summarize("tooling", PLAN)], title="T")


def test_protected_resources_are_the_ones_with_destroy_protection(tooling: StackJson) -> None:
    protected = protected_addresses(tooling.data)
    assert any(a.startswith("aws_kms_key.") for a in protected)
    assert any(a.startswith("aws_efs_file_system.") for a in protected)
    assert not any(a.startswith("aws_iam_role.") for a in protected)


def test_replacements_and_deletions_say_why() -> None:
    """Before: counts per type and bare addresses only."""
    plan = summarize("tooling", {"resource_changes": [
        {**_rc("aws_kms_key.k", ["delete", "create"]), "action_reason": "replace_because_cannot_update",
         "change": {"actions": ["delete", "create"], "replace_paths": [["multi_region"]]}},
        {**_rc("aws_iam_role.old", ["delete"]), "action_reason": "delete_because_no_resource_config"},
        {**_rc("aws_instance.t", ["create", "delete"]), "action_reason": "replace_because_tainted"},
    ]}, frozenset({"aws_kms_key.k"}))
    markdown = render_markdown([plan], title="T")
    assert "> - `tooling`: **replace** `aws_kms_key.k`: multi_region cannot change in place" in markdown
    assert "- **delete** `aws_iam_role.old`: no longer in the configuration (removed, or its address changed without a move)" in markdown
    assert "- **replace** `aws_instance.t`: the object is tainted" in markdown


def test_an_unplanned_stack_is_called_out_first() -> None:
    """Before: a quiet 'skipped' row in the table, and exit 0 (ops/plan.py now exits 1)."""
    markdown = render_markdown([summarize("tooling", PLAN), StackPlan("vpn", "skipped", reason="provider hashicorp/tls missing")],
                               title="T")
    assert markdown.index("1 stack(s) NOT planned") < markdown.index("| stack |")
    assert "> - `vpn`: provider hashicorp/tls missing" in markdown
