"""checkov on the synthesized stacks: failures need a written reason next to their code."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.synth import StackJson
from vault_platform import policy_gate
from vault_platform.policy_gate import GateResult, evaluate, gate, report_lines, suppressions



@pytest.fixture(scope="session")
def result(default_stacks: dict[str, StackJson]) -> GateResult:
    return gate({stack_id: stack.path for stack_id, stack in default_stacks.items()})


def test_checks_ran_on_every_stack(result: GateResult) -> None:
    print("\n".join(report_lines(result)))
    assert result.passed > 100


def test_no_stack_has_an_unsuppressed_failure(result: GateResult) -> None:
    assert not result.failed, "\n".join(report_lines(result))


def test_no_stale_suppression(result: GateResult) -> None:
    assert not result.stale, result.stale


def test_every_suppression_has_a_reason() -> None:
    registry = suppressions()
    assert registry
    for key, (reason, module) in registry.items():
        assert len(key) == 3 and key[0].startswith("CKV"), (key, module)
        assert len(reason) > 30, f"{key} in {module} needs a real reason"


def test_an_unsuppressed_failure_fails_the_gate(default_stacks: dict[str, StackJson]) -> None:
    tooling = default_stacks["tooling"]
    name = next(iter(tooling.resources("aws_kms_key")))
    report = [{"results": {"passed_checks": [], "failed_checks": [
        {"check_id": "CKV_AWS_7", "check_name": "rotation", "resource": f"resource.{name}",
         "file_abs_path": str(tooling.path)},
        {"check_id": "CKV_AWS_338", "check_name": "retention", "resource": "resource." +
         next(n for n in tooling.resources("aws_cloudwatch_log_group") if "flow-log" in n),
         "file_abs_path": str(tooling.path)},
    ]}}]
    outcome = evaluate(report, {"tooling": tooling.path}, suppressions())
    assert not outcome.ok
    assert [f.check_id for f in outcome.failed] == ["CKV_AWS_7"]
    assert [f.check_id for f, _ in outcome.suppressed] == ["CKV_AWS_338"]


def test_missing_checkov_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(policy_gate.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(policy_gate.PolicyGateError, match="checkov is not installed"):
        policy_gate.checkov_binary()
