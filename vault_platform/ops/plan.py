"""Plan review: what each stack would create, change, replace and destroy, for a person.

    python -m vault_platform.ops.plan                       # default environment, on the local emulator
    python -m vault_platform.ops.plan --env prod --target aws --summary plan-summary.md

Per stack, in deploy order: ``terraform init`` (providers from the local mirror),
``validate``, ``plan -out``, ``show -json`` -> a line on stdout and a section of the
Markdown summary (``--summary``). A stack whose providers no local mirror holds is
reported as skipped, with the reason. Everything runs in a temporary copy of the
synthesized stacks, so local state (``../../../terraform.<stack>.tfstate``) lands there
and never in the repository.

On the emulator a later stack reads an earlier one's state (terraform_remote_state), so
each planned stack that another stack follows is then applied to the emulator, minus
what the emulator cannot create (``emulator_gaps``). Exit codes: 0 planned, 1 a stack
failed to validate or plan, 2 bad input or a missing tool (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vault_platform.cli import OneLineParser, one_line_errors
from vault_platform.errors import ToolError
from vault_platform.federated_trust import describe
from vault_platform.ops.plan_summary import StackPlan, protected_addresses, render_markdown, summarize
from vault_platform.ops.terraform_cli import (
    Terraform,
    TerraformUnavailable,
    find_mirror,
    first_error,
    missing_providers,
    missing_providers_reason,
    required_providers,
    terraform_binary,
)

if TYPE_CHECKING:
    from vault_platform.config.model import EnvironmentConfig

EMULATOR, AWS = "emulator", "aws"
PLAN_FILE = "plan.tfplan"
FLOW_MATRIX_DIR = "flow-matrix"  # kept between plans (and CI pipelines): not under cdktf.out/
EMULATOR_SUFFIX = ".emulator"  # sibling dir of a stack: same depth, so the same state path


class PlanInputError(ToolError):
    """Bad input or environment: reported as one line, exit code 2."""


@dataclass(frozen=True)
class StackDir:
    stack_id: str
    path: Path  # directory holding cdk.tf.json

    @property
    def json(self) -> dict:
        return json.loads((self.path / "cdk.tf.json").read_text())


class Progress:
    def __init__(self, total: int, stream=sys.stdout) -> None:
        self.total = total
        self.started = time.monotonic()
        self.stream = stream

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def step(self, index: int, stack_id: str, what: str) -> None:
        print(f"[{index}/{self.total}] {stack_id}: {what} ({self.elapsed():.0f}s)", file=self.stream, flush=True)


def aws_credentials_present(environ: dict[str, str] | None = None, home: Path | None = None) -> bool:
    """A cheap, offline look for any credential source the AWS provider would use."""
    environ = dict(os.environ) if environ is None else environ
    home = Path.home() if home is None else home
    if environ.get("AWS_ACCESS_KEY_ID") and environ.get("AWS_SECRET_ACCESS_KEY"):
        return True
    if environ.get("AWS_WEB_IDENTITY_TOKEN_FILE") and environ.get("AWS_ROLE_ARN"):
        return True  # GitLab CI: the OIDC id_token, exchanged by the provider itself
    if environ.get("AWS_PROFILE") or environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI") \
            or environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        return True
    return any((home / ".aws" / name).is_file() for name in ("credentials", "config"))


def synthesized_stacks(source: Path, expected: list[str], workdir: Path) -> list[StackDir]:
    """Copy the expected stacks of a synthesized output into workdir/cdktf.out/stacks."""
    stacks = []
    for stack_id in expected:
        stack_json = source / "stacks" / stack_id / "cdk.tf.json"
        if not stack_json.is_file():
            raise PlanInputError(f"stack '{stack_id}' is missing from the synthesized output {source}/stacks/; "
                                 f"run `python main.py --outdir {source}` (or drop --synth-dir to synthesize)")
        target = workdir / "cdktf.out" / "stacks" / stack_id
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(stack_json, target / "cdk.tf.json")
        stacks.append(StackDir(stack_id, target))
    return stacks


def synthesize_into(environment: str, outdir: Path, *, allow_destroy: bool = False) -> list[str]:
    """Synthesize in this process; returns the stack ids in deploy order."""
    from vault_platform.app import synthesize
    from vault_platform.config import load_environment

    env = load_environment(environment)
    return [stack.stack_id for stack in synthesize(env, environment, str(outdir), allow_destroy=allow_destroy)]


def expected_stack_ids(environment: str, env: EnvironmentConfig | None = None) -> list[str]:
    """The environment's stack ids in deploy order (app.stack_order)."""
    from vault_platform.app import stack_order
    from vault_platform.config import load_environment

    return list(stack_order(env or load_environment(environment), environment))


def _mirror_for(stack_json: dict) -> Path:
    requirements = required_providers(stack_json)
    mirrors = {find_mirror(requirement) for requirement in requirements}
    if len(mirrors) > 1:
        raise TerraformUnavailable(f"the stack's providers are spread over several mirrors ({sorted(map(str, mirrors))}); "
                                   "put them in one directory")
    return mirrors.pop()


def skip_reason(stack_json: dict) -> str | None:
    """Why this machine cannot plan the stack (its providers are in no local mirror), or None."""
    reason = missing_providers_reason(stack_json)
    return None if reason is None else f"{reason} (set TF_PROVIDER_MIRROR to one that has them)"


def plan_stack(stack: StackDir, env: dict[str, str], progress: Progress, index: int) -> tuple[StackPlan, Terraform | None]:

    stack_json = stack.json
    reason = skip_reason(stack_json)
    if reason is not None:
        progress.step(index, stack.stack_id, f"skipped: {reason}")
        return StackPlan(stack.stack_id, "skipped", reason=reason), None
    terraform = Terraform(stack.path, _mirror_for(stack_json), env=env)
    progress.step(index, stack.stack_id, "terraform init")
    init = terraform.run("init", "-input=false", check=False)
    if init.returncode != 0:
        return StackPlan(stack.stack_id, "failed", reason=f"init: {first_error(init)}"), terraform
    progress.step(index, stack.stack_id, "terraform validate")
    validation = terraform.validate()
    if not validation.get("valid", False):
        problems = "; ".join(d.get("summary", "") + (f" ({d['address']})" if d.get("address") else "")
                             for d in validation.get("diagnostics", []) if d.get("severity") == "error")
        return StackPlan(stack.stack_id, "failed", reason=f"validate: {problems}"), terraform
    progress.step(index, stack.stack_id, "terraform plan")
    result = terraform.plan(PLAN_FILE)
    if result.returncode != 0:
        return StackPlan(stack.stack_id, "failed", reason=f"plan: {first_error(result)}"), terraform
    plan = summarize(stack.stack_id, terraform.show_json(PLAN_FILE), protected_addresses(stack_json))
    progress.step(index, stack.stack_id, "planned: " + plan.one_line().split(": ", 1)[1])
    return plan, terraform


def apply_on_emulator(stack: StackDir, env: dict[str, str]) -> tuple[bool, str, tuple[str, ...]]:
    """Apply the emulator copy of a stack (a sibling directory, same state file)."""
    from vault_platform.ops.emulator_gaps import emulator_copy

    copy = emulator_copy(stack.json)
    target = stack.path.with_name(stack.stack_id + EMULATOR_SUFFIX)
    target.mkdir(exist_ok=True)
    (target / "cdk.tf.json").write_text(json.dumps(copy.stack_json, indent=2))
    with Terraform(target, _mirror_for(copy.stack_json), env=env) as terraform:
        init = terraform.run("init", "-input=false", check=False)
        if init.returncode != 0:
            return False, f"init: {first_error(init)}", copy.dropped
        result = terraform.apply()
        if result.returncode != 0:
            return False, first_error(result), copy.dropped
    return True, "", copy.dropped


def _read_later(stack: StackDir, later: list[StackDir]) -> bool:
    """Whether a later stack that can be planned here reads this stack's state."""
    state_file = f"terraform.{stack.stack_id}.tfstate"
    for other in later:
        other_json = other.json
        if state_file in json.dumps(other_json.get("data", {}).get("terraform_remote_state", {})) \
                and not missing_providers(other_json):
            return True
    return False


@contextmanager
def _workdir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="vault-platform-plan-") as name:
        yield Path(name)


def run(args: argparse.Namespace) -> int:
    from vault_platform.config import load_environment
    from vault_platform.ops.emulator import Emulator

    terraform_binary()  # fails first, with the fix, before any synth
    env_config = load_environment(args.env)
    target = args.target or (AWS if env_config.account_id else EMULATOR)
    if target == AWS and not aws_credentials_present():
        raise PlanInputError(f"environment '{args.env}' plans against a real AWS account but no AWS credentials were "
                             "found; export AWS_PROFILE (or AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE in CI), "
                             "or use --target emulator")
    started = time.monotonic()
    with ExitStack() as cleanup:
        workdir = cleanup.enter_context(_workdir(args.workdir))
        if args.synth_dir:
            source = args.synth_dir
            expected = expected_stack_ids(args.env, env_config)
        else:
            source = workdir / "synth"
            print(f"Synthesizing environment '{args.env}'...", flush=True)
            expected = synthesize_into(args.env, source)
        if args.stacks:
            unknown = [s for s in args.stacks if s not in expected]
            if unknown:
                raise PlanInputError(f"--stacks {','.join(unknown)}: no such stack in environment '{args.env}'; "
                                     f"pick from {', '.join(expected)}")
            expected = [s for s in expected if s in args.stacks]
        stacks = synthesized_stacks(source, expected, workdir)
        reasons = [skip_reason(stack.json) for stack in stacks]
        if reasons and all(reasons):  # nothing to plan: said before an emulator starts or the flows are compared
            raise PlanInputError(f"no stack could be planned: {reasons[0]}")

        aws_env: dict[str, str] = {}
        if target == EMULATOR:
            emulator = cleanup.enter_context(Emulator(args.emulator_port))
            aws_env = emulator.aws_env(env_config.region)
            print(f"Emulator (moto) on {emulator.endpoint}; state in a temporary directory", flush=True)
        progress = Progress(len(stacks))
        plans: list[StackPlan] = []
        for index, stack in enumerate(stacks, start=1):
            plan, terraform = plan_stack(stack, aws_env, progress, index)
            if terraform is not None:
                terraform.close()
            if target == EMULATOR and plan.status == "planned" and _read_later(stack, stacks[index:]):
                progress.step(index, stack.stack_id, "applying to the emulator for the stacks after it")
                ok, error, dropped = apply_on_emulator(stack, aws_env)
                note = (f"Applied to the emulator so later stacks can read its state; left out there "
                        f"({len(dropped)}): " + ", ".join(f"`{a}`" for a in dropped)) if ok else ""
                plan = StackPlan(plan.stack_id, plan.status, changes=plan.changes, protected=plan.protected, note=note)
                if not ok:
                    plan = StackPlan(plan.stack_id, "failed", reason=f"apply to the emulator: {error}")
            plans.append(plan)

        flow_matrix = args.flow_matrix or default_flow_matrix(args.env)
        flow_changes = _flow_changes(args.env, source, flow_matrix, env_config)
        object_changes = _object_changes(args.env, env_config, renders_beside(flow_matrix, args.env))

    title = f"Plan summary: environment `{args.env}` ({'local emulator' if target == EMULATOR else 'AWS'})"
    from vault_platform.config.validate import kubernetes_notices

    markdown = render_markdown(plans, title=title, flow_changes=flow_changes,
                               flow_base=f"compared with the matrix in `{flow_matrix}`, which now holds this one",
                               object_changes=object_changes, trusted_identities=describe(env_config),
                               notices=kubernetes_notices(env_config))
    args.summary.parent.mkdir(parents=True, exist_ok=True)
    args.summary.write_text(markdown + "\n")
    print("")
    for plan in plans:
        print(plan.one_line())
        for change in plan.dangerous():
            print(f"  PROTECTED {change.action}: {change.address}")
    print(f"Summary: {args.summary} ({time.monotonic() - started:.0f}s)")
    if not any(plan.status == "planned" for plan in plans) and any(plan.status == "skipped" for plan in plans):
        raise PlanInputError("no stack could be planned: " + plans[0].reason)
    unplanned = [plan.stack_id for plan in plans if plan.status == "skipped"]
    if unplanned:
        # A review that silently left stacks out would read as a clean one.
        print(f"NOT PLANNED: {', '.join(unplanned)}; plan only the others with --stacks, or install what they need",
              file=sys.stderr)
    return 1 if any(plan.status in ("failed", "skipped") for plan in plans) else 0


def default_flow_matrix(environment: str) -> Path:
    """Where a plan keeps the flow matrix the next plan compares with: outside cdktf.out/,
    which every synth replaces, and a path CI can keep between pipelines (.gitlab-ci.yml
    caches flow-matrix/: README "Network flows")."""
    return Path(FLOW_MATRIX_DIR) / f"flows-{environment}.json"


def _flow_changes(environment: str, synth_dir: Path, saved: Path, env: EnvironmentConfig | None = None) -> list[str]:
    """The network-flow matrix of this synth, every cluster's flows, against the one the
    previous plan saved (the base), then saved as the base of the next: the plan summary's
    "Network flows" section."""
    import json

    from vault_platform.errors import ConfigError
    from vault_platform.flows.__main__ import report_for
    from vault_platform.flows.matrix import changes, matrix

    try:
        report, _ = report_for(environment, synth_dir, env)
    except ConfigError as error:  # a flow naming nothing: the summary says so, the plan goes on
        return [f"flow check refused: {error}"]
    new = matrix(report)
    base = json.loads(saved.read_text()) if saved.is_file() else None
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(new, indent=1, sort_keys=True) + "\n")
    return changes(base, new) + report.problems()


def renders_beside(flow_matrix: Path, environment: str) -> Path:
    """Where a plan keeps the rendered objects the next plan compares with: beside the flow
    matrix (flow-matrix/ by default, which CI caches)."""
    return flow_matrix.parent / f"rendered-{environment}.json.gz"


def _object_changes(environment: str, env: EnvironmentConfig | None, saved: Path) -> list[str]:
    """Every chart of every cluster rendered by Helm and compared with the previous plan's
    renders (then saved as the next base): the summary's "Kubernetes objects" section. A
    render that cannot run (no chart archive, no helm) is said there; the plan goes on."""
    from vault_platform.config.load import load_environment
    from vault_platform.errors import ConfigError, ToolError
    from vault_platform.rendering import diff
    from vault_platform.rendering.releases import render_environment

    try:
        new = diff.snapshot(render_environment(env or load_environment(environment)))
    except (ConfigError, ToolError) as error:
        return [f"not rendered: {error}"]
    base = diff.load(saved)
    diff.save(saved, new)
    return diff.changes(base, new)


def parser() -> argparse.ArgumentParser:
    from vault_platform.config.load import DEFAULT_ENVIRONMENT

    p = OneLineParser(prog="python -m vault_platform.ops.plan", description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default=os.environ.get("VAULT_PLATFORM_ENV") or DEFAULT_ENVIRONMENT,
                   help="environment file name under environments/")
    p.add_argument("--target", choices=(EMULATOR, AWS),
                   help="where to plan: the local emulator (default when the environment names no account_id) or AWS")
    p.add_argument("--summary", type=Path, default=Path("cdktf.out/plan-summary.md"), help="Markdown summary to write")
    p.add_argument("--flow-matrix", type=Path,
                   help=f"the flow matrix to compare with and then replace (default: {FLOW_MATRIX_DIR}/flows-<env>.json)")
    p.add_argument("--synth-dir", type=Path, help="use this synthesized output instead of synthesizing")
    p.add_argument("--stacks", type=lambda v: [s for s in v.split(",") if s], help="comma-separated subset of stacks")
    p.add_argument("--emulator-port", type=int, help="port for the emulator (default: a free one)")
    p.add_argument("--workdir", type=Path, help="keep the work directory (plans, state) here instead of a temporary one")
    return p


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    return run(parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
