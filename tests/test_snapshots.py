"""The synthesized JSON of every stack, compared with its reviewed snapshot.

A snapshot change is reviewed like a plan diff: on a mismatch this test prints which
Terraform addresses were added, removed or changed. After reading that, and only then,
refresh with ``UPDATE_SNAPSHOTS=1 make test`` and commit the snapshot with the code that
changed it. CI never updates snapshots.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.synth import StackJson
from vault_platform.app import stack_order
from vault_platform.config import load_environment

# Snapshots are of the default environment only: the others are checked by property
# (tests/test_all_environments.py), which keeps their cost and review load flat.
DEFAULT_STACKS = stack_order(load_environment("default"), "default")

SNAPSHOT_DIR = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1" and os.environ.get("CI") != "true"


def canonical(data: dict) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def addresses(data: dict) -> dict[str, object]:
    """Every block of a stack keyed by its Terraform address (resource, data, output, ...)."""
    found: dict[str, object] = {}
    for block in ("resource", "data"):
        for type_name, items in data.get(block, {}).items():
            for name, body in items.items():
                found[f"{'data.' if block == 'data' else ''}{type_name}.{name}"] = body
    for name, body in data.get("output", {}).items():
        found[f"output.{name}"] = body
    for name in ("provider", "terraform", "variable", "locals", "moved"):
        if name in data:
            found[name] = data[name]
    return found


def describe_difference(expected: dict, actual: dict) -> str:
    before, after = addresses(expected), addresses(actual)
    lines = [f"  + {a}" for a in sorted(after.keys() - before.keys())]
    lines += [f"  - {a}" for a in sorted(before.keys() - after.keys())]
    lines += [f"  ~ {a}" for a in sorted(before.keys() & after.keys()) if before[a] != after[a]]
    return "\n".join(lines) or "  (only formatting or metadata differs)"


@pytest.mark.parametrize("stack", DEFAULT_STACKS)
def test_stack_matches_reviewed_snapshot(stack: str, default_stacks: dict[str, StackJson]) -> None:
    actual = default_stacks[stack].data
    snapshot = SNAPSHOT_DIR / f"{stack}.json"
    if UPDATE:
        snapshot.parent.mkdir(exist_ok=True)
        snapshot.write_text(canonical(actual))
    assert snapshot.exists(), (
        f"no snapshot for stack '{stack}': read the synthesized JSON, then create it with "
        "UPDATE_SNAPSHOTS=1 python -m pytest tests/test_snapshots.py")
    expected = json.loads(snapshot.read_text())
    if expected != actual:
        pytest.fail(
            f"stack '{stack}' differs from tests/snapshots/{stack}.json:\n{describe_difference(expected, actual)}\n"
            "Review this like a plan diff; if intended: UPDATE_SNAPSHOTS=1 make test, and commit the snapshot.",
            pytrace=False,
        )


def test_snapshot_files_belong_to_existing_stacks() -> None:
    """A stack that was removed or renamed must not leave its old snapshot behind."""
    known = set(DEFAULT_STACKS)
    stale = sorted(p.stem for p in SNAPSHOT_DIR.glob("*.json") if p.stem not in known)
    assert not stale, f"snapshots without a stack: {stale}; delete them if the stack is gone on purpose"


def test_difference_report_names_addresses() -> None:
    before = {"resource": {"aws_vpc": {"a": {"cidr_block": "10.0.0.0/16"}}, "aws_subnet": {"s": {}}}}
    after = {"resource": {"aws_vpc": {"a": {"cidr_block": "10.1.0.0/16"}}, "aws_eip": {"e": {}}}}
    report = describe_difference(before, after)
    assert "  + aws_eip.e" in report and "  - aws_subnet.s" in report and "  ~ aws_vpc.a" in report
