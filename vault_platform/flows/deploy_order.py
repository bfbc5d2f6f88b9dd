"""Prove the deploy order from the flow contract: every flow a stack's deploy needs (its
providers' calls, Flow.deploy_of) is opened by rules of that stack or of stacks it depends
on (manifest.json), so `cdktf deploy` never reaches a stack whose endpoints are still closed."""

from __future__ import annotations

from vault_platform.flows.check import Report
from vault_platform.flows.synthesized import Synthesized


def unreachable_at_deploy(report: Report, synth: Synthesized) -> list[str]:
    """One line per flow a stack needs but cannot have when it deploys (Flow.deploy_of names
    this environment's stack ids)."""
    problems = []
    for result in report.results:
        for stack in result.flow.deploy_of:
            if not result.open:
                problems.append(f"stack {stack}: flow '{result.flow.name}' is blocked at {result.blocked_at}")
                continue
            before = synth.dependency_closure(stack)
            late = sorted({rule.stack for rule in result.used if rule.stack not in before})
            for other in late:
                rules = ", ".join(r.rule_id for r in result.used if r.stack == other)
                problems.append(f"stack {stack}: flow '{result.flow.name}' needs {rules} of stack {other}, which it does not "
                                f"depend on; fix: make {stack} depend on {other} (vault_platform/app.py) or open the flow earlier")
    return problems
