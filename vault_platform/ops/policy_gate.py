"""Policy gate: checkov on every stack's synthesized JSON; any failed check without a
written reason fails the gate.

    python -m vault_platform.ops.policy_gate                 # default environment, all stacks
    python -m vault_platform.ops.policy_gate --synth-dir cdktf.out

Checkov reads cdk.tf.json with ``--framework terraform_json``: the AWS checks, and the
Kubernetes ones for the kubernetes_*/helm resources of the platform stacks. Inline skip
comments are impossible in JSON, so accepted findings live in a registry next to the
code that causes them: a module-level ``CHECKOV_SUPPRESSIONS`` in the construct (or
stack) module that creates the resource, keyed by (check id, resource type, the fixed
child id the construct gives the resource), valued by the reason. What an environment
decides (a single-zone database in staging) is accepted in its file instead, by check id
(``[policy.accepted]``). An acceptance that matches no failure of its environment is stale
and fails the gate; a code suppression may be needed by some environments only (log
retention is an environment's choice), so the test suite fails on one that no environment
needs. Neither list can outlive its cause.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from vault_platform.binaries import PIPFILE_FIX, find_binary, interpreter_bin
from vault_platform.cli import OneLineParser, one_line_errors
from vault_platform.errors import ToolError
from vault_platform.ops.accepted_findings import collect, resources, triage

CHECKOV_VERSION = "3.3.30"
SuppressionKey = tuple[str, str, str]  # (check id, resource type, construct child id)
# How an environment's acceptance of a check appears among the suppressions: every resource.
ANY = "*"


class PolicyGateError(ToolError):
    """checkov gave no usable report: one line, exit 2 (a missing checkov is a BinaryNotFound)."""


@dataclass(frozen=True)
class Finding:
    stack_id: str
    check_id: str
    check_name: str
    resource_type: str
    resource_name: str
    construct_path: str  # cdktf construct path, e.g. tooling/eks/control-plane-logs

    @property
    def child_id(self) -> str:
        return self.construct_path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class GateResult:
    passed: int
    failed: tuple[Finding, ...]  # not suppressed: these fail the gate
    suppressed: tuple[tuple[Finding, str], ...]  # with the reason
    unused: tuple[tuple[SuppressionKey, str], ...]  # registry entries that matched nothing here

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def stale(self) -> tuple[tuple[SuppressionKey, str], ...]:
        """The environment's acceptances that matched nothing: it no longer needs them."""
        return tuple((key, module) for key, module in self.unused if key[1:] == (ANY, ANY))


def suppressions() -> dict[SuppressionKey, tuple[str, str]]:
    """Every CHECKOV_SUPPRESSIONS entry of the construct and stack modules: key -> (reason, module)."""
    return collect("CHECKOV_SUPPRESSIONS")  # type: ignore[return-value]


def checkov_binary() -> str:
    return str(find_binary("checkov", [interpreter_bin()], fix=PIPFILE_FIX.format(pin=f"checkov=={CHECKOV_VERSION}")))


def run_checkov(stack_files: dict[str, Path]) -> list[dict]:
    """One checkov run over all stacks (it starts slowly); its JSON report, one per framework.

    Checkov 3.3's terraform_json parser fails on a top-level ``moved`` list (it takes only
    objects) and then checks nothing in that stack, so it reads copies without the moved
    blocks (they configure no resource); the report names the original files. A file it
    still cannot parse stops the gate: an unchecked stack must not pass."""
    with tempfile.TemporaryDirectory(prefix="policy-gate-") as scratch:
        readable = {stack_id: _without_moves(path, Path(scratch) / stack_id) for stack_id, path in stack_files.items()}
        command = [checkov_binary(), "--framework", "terraform_json", "-o", "json", "--compact",
                   "--skip-download", "--soft-fail"]
        for path in readable.values():
            command += ["-f", str(path)]
        # Offline: no guideline or policy download from the vendor's platform.
        env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false", "LOG_LEVEL": "ERROR"}
        result = subprocess.run(command, capture_output=True, text=True, env=env)
        original = {str(readable[stack_id].resolve()): str(path.resolve()) for stack_id, path in stack_files.items()}
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise PolicyGateError(f"checkov gave no JSON report (exit {result.returncode}): {last}") from None
    reports = report if isinstance(report, list) else [report]
    for each in reports:
        results = each.get("results", {})
        unparsed = [original.get(str(Path(name).resolve()), name) for name in results.get("parsing_errors", [])]
        if unparsed:
            raise PolicyGateError(f"checkov could not parse {', '.join(unparsed)}, so it checked nothing there")
        for check in results.get("passed_checks", []) + results.get("failed_checks", []):
            check["file_abs_path"] = original.get(str(Path(check.get("file_abs_path", "")).resolve()), check.get("file_abs_path", ""))
    return reports


def _without_moves(path: Path, scratch: Path) -> Path:
    """``path``, or a copy in ``scratch`` without its moved blocks when it has any."""
    data = json.loads(path.read_text())
    if "moved" not in data:
        return path
    scratch.mkdir(parents=True)
    copy = scratch / path.name
    copy.write_text(json.dumps({key: value for key, value in data.items() if key != "moved"}))
    return copy


def _index_resources(stack_json: dict) -> dict[str, tuple[str, str]]:
    """resource name -> (type, construct path)."""
    return {name: (rtype, path) for rtype, name, _, path in resources(stack_json)}


def environment_acceptances(accepted: Mapping[str, str], source: str) -> dict[SuppressionKey, tuple[str, str]]:
    """[policy.accepted] of an environment file as registry entries: (check, any type, any resource)."""
    return {(check_id, ANY, ANY): (f"accepted by the environment: {reason}", source) for check_id, reason in accepted.items()}


def evaluate(reports: list[dict], stack_files: dict[str, Path],
             registry: dict[SuppressionKey, tuple[str, str]]) -> GateResult:
    by_file = {str(path.resolve()): stack_id for stack_id, path in stack_files.items()}
    indexes = {stack_id: _index_resources(json.loads(path.read_text())) for stack_id, path in stack_files.items()}
    passed = 0
    findings: list[Finding] = []
    for report in reports:
        passed += len(report.get("results", {}).get("passed_checks", []))
        for check in report.get("results", {}).get("failed_checks", []):
            stack_id = by_file.get(str(Path(check.get("file_abs_path", "")).resolve()), "?")
            name = check["resource"].split(".")[-1]
            rtype, path = indexes.get(stack_id, {}).get(name, (check["resource"].split(".")[0], name))
            findings.append(Finding(stack_id, check["check_id"], check.get("check_name", ""), rtype, name, path))
    # The code's reason first; else the environment's, if any.
    sorted_out = triage(findings, registry, lambda f: [(f.check_id, f.resource_type, f.child_id), (f.check_id, ANY, ANY)])
    return GateResult(passed, sorted_out.failed, sorted_out.accepted, sorted_out.unused(registry))  # type: ignore[arg-type]


def gate(stack_files: dict[str, Path], accepted: Mapping[str, str] | None = None, source: str = "", *,
         reports: list[dict] | None = None) -> GateResult:
    """accepted: the environment's [policy.accepted] (check id -> reason), from ``source``.
    reports: checkov's report on these files if already run (the test suite runs it once)."""
    reports = run_checkov(stack_files) if reports is None else reports
    return evaluate(reports, stack_files, {**suppressions(), **environment_acceptances(accepted or {}, source)})


def report_lines(result: GateResult) -> list[str]:
    lines = [f"checkov {CHECKOV_VERSION}: {result.passed} passed, {len(result.failed)} failed, "
             f"{len(result.suppressed)} suppressed (with a reason)"]
    for finding in result.failed:
        lines.append(f"  FAILED {finding.check_id} {finding.stack_id}: {finding.resource_type} "
                     f"{finding.construct_path} - {finding.check_name}")
        lines.append(f"         fix it, or add {(finding.check_id, finding.resource_type, finding.child_id)!r}: "
                     "\"<reason>\" to CHECKOV_SUPPRESSIONS in the module that creates it")
    for finding, reason in result.suppressed:
        lines.append(f"  suppressed {finding.check_id} {finding.stack_id}: {finding.construct_path} - {reason}")
    for key, module in result.stale:
        lines.append(f"  STALE acceptance of {key[0]} in {module}: no failure of this environment matches it; remove it")
    return lines


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    from vault_platform.config import load_environment
    from vault_platform.config.load import DEFAULT_ENVIRONMENT
    from vault_platform.ops.plan import PlanInputError, expected_stack_ids, synthesize_into

    parser = OneLineParser(prog="python -m vault_platform.ops.policy_gate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default=os.environ.get("VAULT_PLATFORM_ENV") or DEFAULT_ENVIRONMENT)
    parser.add_argument("--synth-dir", type=Path, help="use this synthesized output instead of synthesizing")
    args = parser.parse_args(argv)
    env = load_environment(args.env)  # bad input first, before any synth
    checkov_binary()
    with tempfile.TemporaryDirectory(prefix="vault-platform-policy-") as name:
        source = args.synth_dir or Path(name)
        stacks = expected_stack_ids(args.env) if args.synth_dir else synthesize_into(args.env, source)
        files = {s: source / "stacks" / s / "cdk.tf.json" for s in stacks}
        for stack_id, path in files.items():
            if not path.is_file():
                raise PlanInputError(f"stack '{stack_id}' is missing from the synthesized output {source}/stacks/")
        result = gate(files, env.policy.accepted, env.source)
    print("\n".join(report_lines(result)))
    return 0 if result.ok and not result.stale else 1


if __name__ == "__main__":
    sys.exit(main())
