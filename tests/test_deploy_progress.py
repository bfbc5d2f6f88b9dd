"""The round trip's reading of running tools: which stacks `cdktf deploy` has applied
(deploy_progress.ApplyProgress, from its log as the CLI writes it) and what a
`terraform plan -json` plans (terraform_cli.planned_actions)."""

from __future__ import annotations

import json
from pathlib import Path

from vault_platform.ops.deploy_progress import ApplyProgress
from vault_platform.ops.terraform_cli import planned_actions

# Lines as cdktf 0.21 writes them to a file (--no-color still redraws its progress).
REDRAW = b"\x1b[2K\x1b[1A\x1b[2K\x1b[1A\x1b[2K\x1b[G"


def applied_line(stack_id: str, added: int) -> bytes:
    return REDRAW + f"{stack_id}  Apply complete! Resources: {added} added, 0 changed, 0 destroyed.\n".encode()


def test_a_stack_counts_as_applied_once_its_line_is_whole(tmp_path: Path) -> None:
    log = tmp_path / "cdktf-deploy.log"
    progress = ApplyProgress(log, ["multi-tooling", "multi-search"])
    assert progress.newly_applied() == []  # no log yet
    line = applied_line("multi-tooling", 108)
    with log.open("wb") as out:
        out.write(REDRAW + b"multi-tooling  aws_vpc.vpc (vpc/vpc): Creation complete after 11s [id=vpc-1]\n")
        out.write(line[:30])  # the CLI is mid-line
        out.flush()
        assert progress.newly_applied() == []
        out.write(line[30:])
        out.write(REDRAW + "multi-search  ╷ │ Error: one\n".encode())
        out.flush()
        assert progress.newly_applied() == ["multi-tooling"]
        out.write(applied_line("multi-tooling", 108) + applied_line("multi-search-platform", 3) +
                  applied_line("multi-search", 71))
        out.flush()
        # Each stack once; a stack not in the deploy (a prefix of another's name) is not one.
        assert progress.newly_applied() == ["multi-search"]
        assert progress.newly_applied() == []


def test_a_plan_read_from_its_json_ui() -> None:
    """The message shapes of Terraform's machine-readable UI (its docs: "planned_change",
    "diagnostic"), as `terraform plan -json -destroy` prints them."""
    lines = [
        {"@level": "info", "@message": "Terraform 1.11.4", "type": "version", "terraform": "1.11.4", "ui": "1.2"},
        {"@level": "info", "@message": "aws_vpc.vpc: Plan to delete", "type": "planned_change",
         "change": {"resource": {"addr": "aws_vpc.vpc", "resource_type": "aws_vpc"}, "action": "delete"}},
        {"@level": "info", "@message": 'aws_subnet.private["a"]: Plan to delete', "type": "planned_change",
         "change": {"resource": {"addr": 'aws_subnet.private["a"]'}, "action": "delete"}},
        {"@level": "info", "type": "change_summary", "changes": {"add": 0, "change": 0, "remove": 2}},
    ]
    stdout = "\n".join(json.dumps(line) for line in lines)
    assert planned_actions(stdout) == ({"aws_vpc.vpc": "delete", 'aws_subnet.private["a"]': "delete"}, None)
    refused = {"@level": "error", "@message": "Error: Instance cannot be destroyed", "type": "diagnostic",
               "diagnostic": {"severity": "error", "summary": "Instance cannot be destroyed",
                              "detail": "Resource aws_db_instance.database has lifecycle.prevent_destroy set,\nbut the plan "
                                        "calls for this resource to be destroyed."}}
    warned = {"@level": "warn", "type": "diagnostic", "diagnostic": {"severity": "warning", "summary": "Deprecated"}}
    actions, error = planned_actions("\n".join(json.dumps(line) for line in (warned, refused)) + "\nnot json\n")
    assert actions == {}
    assert error == ("Error: Instance cannot be destroyed Resource aws_db_instance.database has "
                     "lifecycle.prevent_destroy set, but the plan calls for this resource to be destroyed.")
