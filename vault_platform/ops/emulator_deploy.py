"""Deploy an environment's AWS stacks (every cluster's) for real, into the local emulator, and tear them down.

    python -m vault_platform.ops.emulator_deploy            # default environment: deploy, re-plan, destroy
    python -m vault_platform.ops.emulator_deploy --env NAME --no-destroy   # deploy and re-plan only
    python -m vault_platform.ops.emulator_deploy --keep     # deploy and re-plan, leave it up until Enter

What runs, in a temporary directory (state included, nothing lands in the repository):
1. ``python main.py --outdir <tmp>/cdktf.out``: the same synthesized JSON that targets AWS.
2. Each AWS stack's cdk.tf.json in that copy loses what the emulator cannot create
   (``emulator_gaps.emulator_copy``); the real configuration is untouched.
3. ``cdktf deploy <stacks> --skip-synth --skip-provider-lock --auto-approve``: the cdktf CLI
   itself applies them in dependency order. ``--skip-synth`` because step 2 must happen
   between synth and apply, and the CLI has no hook for it.
4. ``terraform plan`` per stack must show no changes beyond ``emulator_gaps.PERPETUAL_DIFFS``:
   each application stack's as soon as cdktf reports its apply ended (``deploy_progress``),
   the first (tooling, which every application stack writes routes into) once the whole
   deploy has; the VPCs, peerings and peering routes are read back from the emulator's EC2
   API (``emulator_network.read_network``) once the deploy has ended.
5. ``python main.py --allow-destroy`` (the deliberate-teardown synth: prevent_destroy
   lifted; made into <tmp>/teardown.out while step 3 runs), step 2 again, a targeted plan and apply of the resources with deletion protection (the
   database: destroy alone does not update it: ``plan_lift``), then ``terraform destroy`` per stack,
   last deployed first (``emulator_gaps.FORGOTTEN_BEFORE_DESTROY`` removed from state first).
   A rehearsal (the test suite's: ``terraform plan -destroy`` instead of the destroy) runs
   for each stack right after its own re-plan, since it changes nothing another stack reads.
   Terraform itself, not ``cdktf destroy``: cdktf 0.21's destroy with ``--skip-synth``
   and ``--ignore-missing-stack-dependencies`` (needed while the platform and vpn stacks
   are skipped) started ``terraform destroy`` over and over here and never finished.
Stacks whose providers are not installable on this machine are reported as skipped.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from vault_platform.binaries import NODE_BIN, PACKAGE_JSON_FIX, find_binary
from vault_platform.cli import OneLineParser, one_line_errors
from vault_platform.errors import ToolError
from vault_platform.ops.deploy_progress import ApplyProgress
from vault_platform.ops.emulator import Emulator, stop_process_group
from vault_platform.ops.emulator_gaps import (
    FORGOTTEN_BEFORE_DESTROY,
    PERPETUAL_DIFFS,
    EmulatorCopy,
    check_replan,
    emulator_copy,
)
from vault_platform.ops.emulator_network import NetworkView, read_network
from vault_platform.ops.terraform_cli import (
    Terraform,
    find_mirror,
    first_error,
    missing_providers_reason,
    planned_actions,
    required_providers,
)

if TYPE_CHECKING:
    from vault_platform.config.model import EnvironmentConfig

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CDKTF_TIMEOUT_SECONDS = 300
PROGRESS_POLL_SECONDS = 0.5  # how often the deploy's log is read for stacks it has applied


class DeployError(ToolError):
    """A step of the round trip failed; the message names the step and Terraform's error."""


@dataclass
class RoundTrip:
    deployed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # stack -> reason
    dropped: dict[str, tuple[str, ...]] = field(default_factory=dict)  # stack -> addresses left out on the emulator
    resources_to_deploy: dict[str, int] = field(default_factory=dict)  # in the emulator copy cdktf deploy is given
    resources_after_deploy: dict[str, int] = field(default_factory=dict)
    replan_unexplained: dict[str, tuple[str, ...]] = field(default_factory=dict)
    replan_seen: set[tuple[str, str]] = field(default_factory=set)
    resources_after_destroy: dict[str, int] = field(default_factory=dict)  # or left by the rehearsed destroy plan
    protected_after_lift: dict[str, list[str]] = field(default_factory=dict)  # deletion protection still on
    outputs: dict[str, dict] = field(default_factory=dict)
    network: NetworkView | None = None  # VPCs, peerings and peering routes as the emulator holds them after the re-plan
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def unneeded_allowlist(self) -> list[tuple[str, str]]:
        listed = {(rtype, attr) for rtype, attrs in PERPETUAL_DIFFS.items() for attr in attrs}
        return sorted(listed - self.replan_seen)


def cdktf_binary() -> str:
    return str(find_binary("cdktf", [NODE_BIN], fix=PACKAGE_JSON_FIX.format(pin="cdktf-cli")))


def _say(message: str, started: float) -> None:
    # One write per line: the stacks' pipelines say things from several threads at once.
    sys.stdout.write(f"[{time.monotonic() - started:5.0f}s] {message}\n")
    sys.stdout.flush()


def synth(outdir: Path, *, allow_destroy: bool, environment: str = "default", env: EnvironmentConfig | None = None) -> None:
    """`python main.py` as the cdktf CLI would run it (cdktf.json "app", with its -O), into
    outdir; env: an environment built in memory (no file to name), synthesized in this process."""
    from vault_platform.ops.bench import interpreter_flags

    if env is not None:
        from vault_platform.app import synthesize

        synthesize(env, environment, str(outdir), allow_destroy=allow_destroy)
        return

    command = [sys.executable, *interpreter_flags(), "main.py", "--env", environment, "--outdir", str(outdir)]
    if allow_destroy:
        command.append("--allow-destroy")
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise DeployError(f"synth failed: {(result.stderr or result.stdout).strip().splitlines()[-1:]}")


def deployable_stacks(outdir: Path, expected: list[str]) -> tuple[list[str], dict[str, str]]:
    deployable, skipped = [], {}
    for stack_id in expected:
        path = outdir / "stacks" / stack_id / "cdk.tf.json"
        if not path.is_file():
            raise DeployError(f"stack '{stack_id}' is missing from the synthesized output {outdir}/stacks/")
        reason = missing_providers_reason(json.loads(path.read_text()))
        if reason:
            skipped[stack_id] = reason
        else:
            deployable.append(stack_id)
    return deployable, skipped


def filter_for_emulator(outdir: Path, stacks: list[str]) -> dict[str, EmulatorCopy]:
    copies = {}
    for stack_id in stacks:
        path = outdir / "stacks" / stack_id / "cdk.tf.json"
        copies[stack_id] = emulator_copy(json.loads(path.read_text()))
        path.write_text(json.dumps(copies[stack_id].stack_json, indent=2))
    return copies


def _state_resources(workdir: Path, stack_id: str) -> int:
    state = workdir / f"terraform.{stack_id}.tfstate"
    if not state.is_file():
        return 0
    return sum(1 for r in json.loads(state.read_text()).get("resources", []) if r.get("mode") == "managed")


def _cdktf(verb: str, stacks: list[str], outdir: Path, env: dict[str, str], *,
           applied: Callable[[str], None] = lambda stack_id: None) -> None:
    """``cdktf <verb> <stacks>``; ``applied(stack_id)`` is called, while it runs, for each
    stack whose apply has ended (deploy_progress)."""
    command = [cdktf_binary(), verb, *stacks, "--skip-synth", "--skip-provider-lock", "--auto-approve",
               "--output", str(outdir), "--no-color", "--disable-plugin-cache-env"]
    log = outdir.parent / f"cdktf-{verb}.log"  # outside cdktf.out: a re-synth clears that
    progress = ApplyProgress(log, stacks)
    deadline = time.monotonic() + CDKTF_TIMEOUT_SECONDS
    with log.open("w") as output:
        # Own process group, so a timeout also stops the terraform processes cdktf started.
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
                                   text=True, start_new_session=True)
        try:
            while process.poll() is None:
                if time.monotonic() > deadline:
                    stop_process_group(process, timeout=30)
                    raise DeployError(f"cdktf {verb} did not finish within {CDKTF_TIMEOUT_SECONDS}s (log: {log})")
                for stack_id in progress.newly_applied():
                    applied(stack_id)
                time.sleep(PROGRESS_POLL_SECONDS)
        except BaseException:
            stop_process_group(process, timeout=30)
            raise
    text = log.read_text()
    result = subprocess.CompletedProcess(command, process.returncode, text, "")
    if result.returncode != 0:
        raise DeployError(f"cdktf {verb} failed: {first_error(result)} (log: {log})")


def _deletion_protected(stack_dir: Path) -> list[str]:
    stack_json = json.loads((stack_dir / "cdk.tf.json").read_text())
    return [f"{rtype}.{name}" for rtype, block in stack_json.get("resource", {}).items()
            for name, body in block.items() if "deletion_protection" in body]


def _still_protected(terraform: Terraform) -> list[str]:
    """Resources whose deletion protection is still on in the state: AWS (and moto) refuse
    to delete those, so after the lift this list must be empty. Read with `terraform state
    pull` (any backend), which needs no provider: `show -json` loads the AWS provider's
    schema, seconds of CPU per stack."""
    return protected_in_state(json.loads(terraform.run("state", "pull").stdout or "{}"))


def protected_in_state(state: dict) -> list[str]:
    """The address of every managed resource instance in a Terraform state (format version 4)
    whose deletion_protection attribute is true."""
    protected = []
    for resource in state.get("resources", []):
        if resource.get("mode") != "managed":
            continue
        address = ".".join(part for part in (resource.get("module"), resource["type"], resource["name"]) if part)
        for instance in resource.get("instances", []):
            if (instance.get("attributes") or {}).get("deletion_protection") is True:
                key = instance.get("index_key")
                protected.append(address if key is None else f"{address}[{json.dumps(key)}]")
    return protected


def plan_lift(terraform: Terraform, stack_dir: Path, *, refresh: bool = True, lock: bool = True) -> dict[str, dict]:
    """The --allow-destroy synth's lift of deletion protection in ``stack_dir``, planned into
    ``lift.tfplan``: each protected resource's planned change, by address. Destroy never
    updates attributes first, so deletion protection (the database's) set by the normal
    synth would block it; a teardown applies exactly this plan first. refresh=False where
    the state was written moments ago by the same run (the emulator's); lock=False where
    the only other Terraform on the state is a plan too (neither writes it)."""
    protected = _deletion_protected(stack_dir)
    if not protected:
        return {}
    planned = terraform.run("plan", "-out=lift.tfplan", "-input=false", *([] if refresh else ["-refresh=false"]),
                            *([] if lock else ["-lock=false"]), *[f"-target={address}" for address in protected],
                            check=False)
    if planned.returncode != 0:
        raise DeployError(f"planning the lift of deletion protection in {stack_dir.name} failed: {first_error(planned)}")
    changes = {c["address"]: c["change"] for c in terraform.show_json("lift.tfplan").get("resource_changes", [])}
    return {address: changes.get(address, {"actions": ["no-op"]}) for address in protected}


def lifted_in_place(change: dict) -> bool:
    """The change turns deletion protection off without replacing the resource (a replace
    would destroy the database it is meant to let go of deliberately)."""
    return change.get("actions") == ["update"] and (change.get("after") or {}).get("deletion_protection") is False


def apply_lift(terraform: Terraform, stack_dir: Path) -> None:
    """Apply ``lift.tfplan`` (plan_lift), exactly what was planned."""
    lifted = terraform.run("apply", "-input=false", "lift.tfplan", check=False)
    if lifted.returncode != 0:
        raise DeployError(f"lifting deletion protection in {stack_dir.name} failed: {first_error(lifted)}")


def _terraform_destroy(stack_dir: Path, mirror: Path, aws_env: dict[str, str], workdir: Path,
                       *, rehearse: bool = False, forget: Collection[str] = FORGOTTEN_BEFORE_DESTROY,
                       before_lift: Callable[[], None] | None = None) -> tuple[int, list[str]]:
    """Destroy with Terraform itself: `cdktf destroy` 0.21 with --skip-synth and
    --ignore-missing-stack-dependencies respawned `terraform destroy` in a loop here.

    rehearse: every step of the teardown, but the last one is `terraform plan -destroy`
    instead of the destroy (README "Test tiers": what the real destroy on an in-memory
    emulator proved beyond this, and why the test suite does not pay for it).
    before_lift (rehearsal only): called once the lift is planned, before anything is
    applied; the round trip waits there for the stack's re-plan, which runs meanwhile.
    Returns (managed resources the teardown leaves, addresses still deletion-protected)."""
    with Terraform(stack_dir, mirror, env=aws_env) as terraform:
        init = terraform.run("init", "-input=false", check=False)  # the re-synth cleared .terraform
        if init.returncode != 0:
            raise DeployError(f"init before destroy of {stack_dir.name} failed: {first_error(init)}")
        # Never more than the lift: a plan that would create or replace the database (gone or
        # changed outside Terraform) stops the teardown before anything is applied. No refresh
        # in a rehearsal: the state was written by the same run, moments ago.
        lift = plan_lift(terraform, stack_dir, refresh=not rehearse, lock=not (rehearse and before_lift))
        unexpected = {address: change.get("actions") for address, change in lift.items() if not lifted_in_place(change)}
        if unexpected:
            raise DeployError(f"the lift of deletion protection in {stack_dir.name} would not be an in-place update "
                              f"({', '.join(f'{a}: {acts}' for a, acts in unexpected.items())}); nothing applied: "
                              "look at the resource in the account, then plan again")
        if rehearse and before_lift is not None:
            before_lift()
        if lift:
            apply_lift(terraform, stack_dir)
        still_protected = _still_protected(terraform)
        listed = terraform.run("state", "list", check=False).stdout.split()
        forgotten = [a for a in listed if a.split(".")[0] in forget]
        if forgotten:
            terraform.run("state", "rm", *forgotten)
        if rehearse:
            # A prevent_destroy left on any resource fails this plan, as it fails a destroy
            # ("Terraform will reject with an error any plan that would destroy" it). No
            # refresh: the re-plan just read every resource, and a plan from the state makes
            # no API calls (with a refresh it took longer than the destroy it stands for).
            planned = terraform.run("plan", "-json", "-input=false", "-lock-timeout=30s", "-destroy", "-refresh=false",
                                    check=False)
            actions, error = planned_actions(planned.stdout)
            if planned.returncode != 0:
                raise DeployError(f"destroy plan of {stack_dir.name} failed: {error or first_error(planned)}")
            deleted = {address for address, action in actions.items()
                       if action == "delete" and not address.startswith("data.")}
            in_state = [a for a in listed if a not in forgotten and not a.startswith("data.")]
            return sum(1 for address in in_state if address not in deleted), still_protected
        log = workdir / f"destroy-{stack_dir.name}.log"
        with log.open("w") as output:
            process = subprocess.Popen([terraform.binary, "destroy", "-no-color", "-auto-approve", "-input=false"],
                                       cwd=stack_dir, env=terraform.env, stdout=output, stderr=subprocess.STDOUT,
                                       start_new_session=True)
            try:
                process.wait(timeout=CDKTF_TIMEOUT_SECONDS)
            except BaseException:
                stop_process_group(process, timeout=30)
                raise DeployError(f"terraform destroy of {stack_dir.name} did not finish (log: {log})") from None
        if process.returncode != 0:
            raise DeployError(f"destroy of {stack_dir.name} failed: "
                              f"{first_error(subprocess.CompletedProcess([], process.returncode, log.read_text(), ''))}")
    return _state_resources(workdir, stack_dir.name), still_protected


def teardown_stacks(outdir: Path, stacks: list[str], mirror: Path, aws_env: dict[str, str], workdir: Path, *,
                    rehearse: bool = False, forget: Collection[str] = FORGOTTEN_BEFORE_DESTROY,
                    say: Callable[[str], None] = print) -> dict[str, tuple[int, list[str]]]:
    """The teardown of ``stacks`` (deploy order) from an --allow-destroy synth in outdir: last
    deployed first, each with _terraform_destroy. The emulator round trip and the operator's
    `make destroy` (ops/teardown.py) both run this. forget: resource types removed from state
    first (the emulator's gaps; nothing on AWS). Returns per stack what _terraform_destroy does."""
    order = list(reversed(stacks))
    verb = "terraform plan -destroy (teardown rehearsal)" if rehearse else "terraform destroy"

    def teardown(stack_id: str) -> tuple[int, list[str]]:
        say(f"[{order.index(stack_id) + 1}/{len(order)}] {stack_id}: {verb}")
        return _terraform_destroy(outdir / "stacks" / stack_id, mirror, aws_env, workdir, rehearse=rehearse, forget=forget)

    if rehearse:
        # No stack's rehearsal changes what another reads (only the database's lift
        # writes, to its own stack), so they run side by side: most of each is the
        # provider waiting for the lifted database, not work.
        with ThreadPoolExecutor(max_workers=len(order)) as pool:
            return dict(zip(order, pool.map(teardown, order)))
    # For real, one after the other: a stack goes only once everything that reads it is gone.
    return {stack_id: teardown(stack_id) for stack_id in order}


class _TeardownOutput:
    """The --allow-destroy synth in teardown.out, made ready for Terraform once (its emulator
    copy written), for whichever stack's teardown asks first."""

    def __init__(self, outdir: Path, stacks: list[str], synthesized: Future | None, synthesize: Callable[[], None]) -> None:
        self._outdir, self._stacks, self._synthesized, self._synthesize = outdir, stacks, synthesized, synthesize
        self._lock = threading.Lock()
        self._done = False

    def wait(self) -> None:
        with self._lock:
            if self._done:
                return
            if self._synthesized is None:
                self._synthesize()
            else:
                self._synthesized.result()
            filter_for_emulator(self._outdir, self._stacks)
            self._done = True


def round_trip(workdir: Path, *, environment: str = "default", env: EnvironmentConfig | None = None,
               destroy: bool = True, rehearse_teardown: bool = False, port: int | None = None,
               pause: bool = False) -> RoundTrip:
    """Every AWS stack of the environment, one per cluster (app.stack_order: tooling, then
    each application cluster), deployed, re-planned and torn down. env: the environment's
    config when built in memory (environment then only names its stacks).
    rehearse_teardown: the teardown up to a `terraform plan -destroy` instead of the
    destroy itself (see _terraform_destroy); what the test suite runs."""
    from vault_platform.ops.plan import expected_stack_ids

    started = time.monotonic()
    report = RoundTrip()
    outdir = workdir / "cdktf.out"  # stacks/<id>/../../../ = workdir: the state lands here
    _say(f"synthesizing '{environment}' into {outdir}", started)
    synth(outdir, allow_destroy=False, environment=environment, env=env)
    stacks, report.skipped = deployable_stacks(outdir, expected_stack_ids(environment, env))
    for stack_id, reason in report.skipped.items():
        _say(f"{stack_id}: skipped: {reason}", started)
    if not stacks:
        raise DeployError("no stack can be deployed on this machine: " + "; ".join(report.skipped.values()))
    copies = filter_for_emulator(outdir, stacks)
    report.dropped = {stack_id: copy.dropped for stack_id, copy in copies.items()}
    report.resources_to_deploy = {stack_id: copy.resource_count for stack_id, copy in copies.items()}
    first_json = json.loads((outdir / "stacks" / stacks[0] / "cdk.tf.json").read_text())
    mirror = find_mirror(required_providers(first_json)[0])
    region = first_json["provider"]["aws"][0]["region"]
    # The --allow-destroy synth goes to its own output (its stacks/<id>/../../../ is workdir
    # too, so it reads the same state) and, when it is a process, is made while cdktf
    # deploys: the deploy is mostly the provider waiting, the synth is CPU.
    teardown_outdir = workdir / "teardown.out"
    synthesize_teardown = functools.partial(synth, teardown_outdir, allow_destroy=True, environment=environment, env=env)
    teardown_synth = ThreadPoolExecutor(max_workers=1)
    teardown_synthesized = teardown_synth.submit(synthesize_teardown) if destroy and env is None else None
    with teardown_synth, Emulator(port) as emulator, Terraform(outdir / "stacks" / stacks[0], mirror) as mirror_config:
        # The cdktf CLI's process environment (not ``env``, the environment's configuration).
        cdktf_env = {**os.environ, **emulator.aws_env(region), "TF_CLI_CONFIG_FILE": str(mirror_config.cli_config),
                     "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}
        _say(f"emulator on {emulator.endpoint}; cdktf deploy {' '.join(stacks)} ({len(stacks)} stacks)", started)
        aws_env = emulator.aws_env(region)
        # The teardown rehearsal of a stack only plans, and lifts deletion protection in its
        # own stack, so each stack goes through it as soon as its re-plan is done; the real
        # destroy (and --keep) waits for every re-plan, and goes last deployed first.
        rehearse_now = destroy and rehearse_teardown and not pause
        teardown_ready = _TeardownOutput(teardown_outdir, stacks, teardown_synthesized, synthesize_teardown)
        # Every application stack writes into the first (its peering's routes in the tooling
        # VPC's tables), so the first is re-planned once the whole deploy has ended; each
        # other stack once its own apply has.
        ready = {stack_id: threading.Event() for stack_id in stacks}
        deploy_failed = threading.Event()

        def rehearse(stack_id: str, replan_done: threading.Event, replan_ok: threading.Event) -> tuple[int, list[str]]:
            """The stack's teardown rehearsal, begun beside its re-plan: init and the lift's
            plan (from the state, no refresh) do not touch what the re-plan reads; the lift
            itself, the one write to the emulator, waits for the re-plan to have read it."""
            def after_replan() -> None:
                replan_done.wait()
                if not replan_ok.is_set():
                    raise DeployError(f"the teardown rehearsal of {stack_id} stopped before the lift: its re-plan failed")

            teardown_ready.wait()
            _say(f"[{stacks.index(stack_id) + 1}/{len(stacks)}] {stack_id}: terraform plan -destroy (teardown rehearsal)",
                 started)
            step = time.monotonic()
            outcome = _terraform_destroy(teardown_outdir / "stacks" / stack_id, mirror, aws_env, workdir, rehearse=True,
                                         before_lift=after_replan)
            report.timings[f"teardown rehearsal {stack_id}"] = time.monotonic() - step
            return outcome

        def after_deploy(stack_id: str) -> tuple[dict, dict, tuple[int, list[str]] | None]:
            ready[stack_id].wait()
            if deploy_failed.is_set():
                return {}, {}, None
            replan_done, replan_ok = threading.Event(), threading.Event()
            rehearsal = rehearsals.submit(rehearse, stack_id, replan_done, replan_ok) if rehearse_now else None
            _say(f"[{stacks.index(stack_id) + 1}/{len(stacks)}] {stack_id}: re-plan", started)
            step = time.monotonic()
            try:
                with Terraform(outdir / "stacks" / stack_id, mirror, env=aws_env) as terraform:
                    result = terraform.plan("replan.tfplan")
                    if result.returncode != 0:
                        raise DeployError(f"re-plan of {stack_id} failed: {first_error(result)}")
                    replanned = terraform.show_json("replan.tfplan"), json.loads(terraform.run("output", "-json").stdout)
                replan_ok.set()
            finally:
                replan_done.set()
                if rehearsal is not None and not replan_ok.is_set():
                    wait([rehearsal])  # it stops at the lift; the re-plan's error is the one raised
            report.timings[f"replan {stack_id}"] = time.monotonic() - step
            return (*replanned, rehearsal.result() if rehearsal is not None else None)

        def applied(stack_id: str) -> None:
            if stack_id != stacks[0]:
                ready[stack_id].set()

        step = time.monotonic()
        with ThreadPoolExecutor(max_workers=len(stacks)) as pool, ThreadPoolExecutor(max_workers=len(stacks)) as rehearsals:
            pipelines = {stack_id: pool.submit(after_deploy, stack_id) for stack_id in stacks}
            try:
                _cdktf("deploy", stacks, outdir, cdktf_env, applied=applied)
            except BaseException:
                deploy_failed.set()
                raise
            finally:
                for event in ready.values():
                    event.set()
            report.timings["deploy"] = time.monotonic() - step
            report.deployed = list(stacks)
            for index, stack_id in enumerate(stacks, start=1):
                report.resources_after_deploy[stack_id] = _state_resources(workdir, stack_id)
                _say(f"[{index}/{len(stacks)}] {stack_id}: deployed {report.resources_after_deploy[stack_id]} resources",
                     started)
            report.network = read_network(aws_env)
            finished = {stack_id: pipeline.result() for stack_id, pipeline in pipelines.items()}
        for index, stack_id in enumerate(stacks, start=1):
            plan_json, report.outputs[stack_id], _ = finished[stack_id]
            check = check_replan(plan_json)
            report.replan_unexplained[stack_id] = check.unexplained
            report.replan_seen |= check.seen
            verdict = "no changes beyond the emulator's known diffs" if not check.unexplained else \
                f"{len(check.unexplained)} unexplained change(s): " + "; ".join(check.unexplained[:5])
            _say(f"[{index}/{len(stacks)}] {stack_id}: {verdict}", started)

        if pause:
            input(f"Deployed on {emulator.endpoint} (AWS_ENDPOINT_URL). Press Enter to destroy and stop... ")
        if destroy:
            if rehearse_now:
                outcomes = {stack_id: finished[stack_id][2] for stack_id in reversed(stacks)}
            else:
                step = time.monotonic()
                teardown_ready.wait()
                outcomes = teardown_stacks(teardown_outdir, stacks, mirror, aws_env, workdir,
                                           rehearse=rehearse_teardown, say=lambda message: _say(message, started))
                report.timings["destroy"] = time.monotonic() - step
            for stack_id, (left, protected) in outcomes.items():
                report.resources_after_destroy[stack_id], report.protected_after_lift[stack_id] = left, protected
            _say(("teardown planned: " if rehearse_teardown else "destroyed: ") +
                 ", ".join(f"{s} {n} left" for s, n in report.resources_after_destroy.items()), started)
    report.timings["total"] = time.monotonic() - started
    return report


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m vault_platform.ops.emulator_deploy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="default", help="environment file name under environments/")
    parser.add_argument("--no-destroy", action="store_true", help="deploy and re-plan only, no teardown")
    parser.add_argument("--keep", action="store_true", help="pause after the re-plan so you can look around, then destroy")
    parser.add_argument("--emulator-port", type=int, help="port for the emulator (default: a free one)")
    parser.add_argument("--workdir", type=Path, help="keep the work directory (synth, state, logs) here")
    args = parser.parse_args(argv)
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        report = round_trip(args.workdir, environment=args.env, port=args.emulator_port, pause=args.keep,
                            destroy=not args.no_destroy)
    else:
        with tempfile.TemporaryDirectory(prefix="vault-platform-emulator-") as name:
            report = round_trip(Path(name), environment=args.env, port=args.emulator_port, pause=args.keep,
                                destroy=not args.no_destroy)
    failed = {s: u for s, u in report.replan_unexplained.items() if u}
    left = {s: n for s, n in report.resources_after_destroy.items() if n}
    left.update({s: p for s, p in report.protected_after_lift.items() if p})
    print(f"Round trip in {report.timings['total']:.0f}s: deployed {', '.join(report.deployed)}; "
          f"skipped {', '.join(report.skipped) or 'none'}")
    if failed or left:
        print(f"FAILED: unexplained re-plan changes {failed}; resources left after destroy {left}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
