"""checkov on the synthesized stacks: failures need a written reason next to their code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.synth import StackJson
from vault_platform.binaries import BinaryNotFound
from vault_platform.ops import policy_gate
from vault_platform.app import stack_order
from vault_platform.config import environment_names, load_environment
from vault_platform.ops.policy_gate import ANY, GateResult, evaluate, gate, report_lines, suppressions


def for_files(reports: list[dict], stack_files: dict[str, Path]) -> list[dict]:
    """The part of one checkov report over many stacks that concerns ``stack_files``: checkov
    starts slowly, so the suite runs it once over every environment's stacks and judges each
    environment on its own share, as `python -m vault_platform.ops.policy_gate --env <name>` does."""
    wanted = {str(path.resolve()) for path in stack_files.values()}

    def mine(checks: list[dict]) -> list[dict]:
        return [c for c in checks if str(Path(c.get("file_abs_path", "")).resolve()) in wanted]

    return [{**report, "results": {kind: mine(report.get("results", {}).get(kind, []))
                                   for kind in ("passed_checks", "failed_checks")}} for report in reports]


@pytest.fixture(scope="session")
def one_checkov_run(all_environment_stacks: dict[str, StackJson]) -> list[dict]:
    return policy_gate.run_checkov({stack_id: stack.path for stack_id, stack in all_environment_stacks.items()})


@pytest.fixture(scope="session")
def result(default_stacks: dict[str, StackJson], all_environment_stacks: dict[str, StackJson],
           one_checkov_run: list[dict]) -> GateResult:
    """The default environment's stacks gated as `make policy` does (no acceptances). The
    default environment's JSON is the same alone and among the others (test_all_environments)."""
    files = {name: all_environment_stacks[name].path for name in default_stacks}
    return gate(files, reports=for_files(one_checkov_run, files))


def test_checks_ran_on_every_stack(result: GateResult) -> None:
    print("\n".join(report_lines(result)))
    assert result.passed > 100


def test_checkov_checked_every_stack_of_every_environment(all_environment_stacks: dict[str, StackJson],
                                                         one_checkov_run: list[dict]) -> None:
    """A stack checkov cannot parse gets no check at all (the total above hides one), e.g. one
    with moved blocks, which checkov 3.3 cannot read: the gate gives it a copy without them."""
    checked = {str(Path(check.get("file_abs_path", "")).resolve())
               for report in one_checkov_run for kind in ("passed_checks", "failed_checks")
               for check in report.get("results", {}).get(kind, [])}
    assert any(stack.data.get("moved") for stack in all_environment_stacks.values()), "no stack has moved blocks any more"
    unchecked = [sid for sid, stack in all_environment_stacks.items() if str(stack.path.resolve()) not in checked]
    assert not unchecked, f"checkov checked nothing in {unchecked}"


def test_a_stack_checkov_cannot_parse_stops_the_gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stack = tmp_path / "cdk.tf.json"
    stack.write_text(json.dumps({"resource": {"aws_s3_bucket": {"logs": {"bucket": "example-logs"}}},
                                 "moved": [{"from": "aws_s3_bucket.old", "to": "aws_s3_bucket.logs"}]}))
    monkeypatch.setattr(policy_gate, "_without_moves", lambda path, scratch: path)  # checkov reads the moved blocks
    with pytest.raises(policy_gate.PolicyGateError, match=r"checkov could not parse .*cdk\.tf\.json, so it checked nothing"):
        policy_gate.run_checkov({"one": stack})


def test_no_stack_has_an_unsuppressed_failure(result: GateResult) -> None:
    assert not result.failed, "\n".join(report_lines(result))


@pytest.fixture(scope="module")
def every_environment(all_environment_stacks: dict[str, StackJson], one_checkov_run: list[dict]) -> dict[str, GateResult]:
    """The gate as `python -m vault_platform.ops.policy_gate --env <name>` runs it, for every
    environment file, each with its own [policy.accepted]."""
    outcomes = {}
    for name in environment_names():
        env = load_environment(name)
        files = {sid: all_environment_stacks[sid].path for sid in stack_order(env, name)}
        outcomes[name] = gate(files, env.policy.accepted, env.source, reports=for_files(one_checkov_run, files))
    return outcomes


def test_every_environment_passes_with_its_own_acceptances(every_environment: dict[str, GateResult]) -> None:
    for name, outcome in every_environment.items():
        assert outcome.ok and not outcome.stale, f"{name}:\n" + "\n".join(report_lines(outcome))


def test_a_code_suppression_no_environment_needs_is_stale(every_environment: dict[str, GateResult]) -> None:
    """Code suppressions may be needed by some environments only (log retention is theirs to
    choose), but each must be needed by one."""
    unused = [{key for key, _ in outcome.unused if key[1:] != (ANY, ANY)} for outcome in every_environment.values()]
    assert not set.intersection(*unused), set.intersection(*unused)


def test_staging_accepts_its_single_zone_database_and_says_why(every_environment: dict[str, GateResult]) -> None:
    accepted = [(f, reason) for f, reason in every_environment["staging"].suppressed if f.check_id == "CKV_AWS_157"]
    assert [f.resource_type for f, _ in accepted] == ["aws_db_instance"]
    assert accepted[0][1].startswith("accepted by the environment: staging's database runs in one zone")
    assert not any(f.check_id == "CKV_AWS_157" for f, _ in every_environment["production"].suppressed)


def test_an_acceptance_that_matches_nothing_is_stale(default_stacks: dict[str, StackJson]) -> None:
    tooling = default_stacks["tooling"]
    outcome = evaluate([{"results": {"passed_checks": [], "failed_checks": []}}], {"tooling": tooling.path},
                       policy_gate.environment_acceptances({"CKV_AWS_157": "a reason long enough to weigh"}, "x.toml"))
    assert outcome.ok and outcome.stale == ((("CKV_AWS_157", ANY, ANY), "x.toml"),)
    assert "STALE acceptance of CKV_AWS_157 in x.toml" in "\n".join(report_lines(outcome))


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
    with pytest.raises(BinaryNotFound, match="checkov is not installed"):
        policy_gate.checkov_binary()
