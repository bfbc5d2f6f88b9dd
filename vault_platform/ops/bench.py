"""Benchmark: synth of every stack against the floor of loading the provider libraries alone.

    python -m vault_platform.ops.bench [--env NAME] [--runs N]
    python -m vault_platform.ops.bench --all-envs [--runs N]   # added cost of each environment

Each figure is a whole process, as a user runs it: ``main.py`` with the interpreter flags of
cdktf.json's ``app`` command (what ``cdktf synth`` and ``make synth`` run) for the synth, and
for the floor a process, with the same flags, that imports cdktf and the provider bindings the
stacks use (their jsii type assemblies are the cost no project can avoid). The two run alternately, pair by pair,
and the medians and the median of the per-pair ratios are printed, so a machine that speeds
up or slows down during the run does not skew the ratio.
"""

from __future__ import annotations

import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vault_platform.cli import OneLineParser, one_line_errors
from vault_platform.errors import ToolError

ROOT = Path(__file__).resolve().parents[2]
TARGET_RATIO = 1.3
TARGET_SECONDS = 10.0
# --all-envs: each environment after the first may add at most this share of its synth time.
TARGET_ADDED_PER_ENVIRONMENT = 0.10
# Terraform provider name -> the Python package of its cdktf bindings.
BINDINGS = {
    "aws": "cdktf_cdktf_provider_aws",
    "kubernetes": "cdktf_cdktf_provider_kubernetes",
    "helm": "cdktf_cdktf_provider_helm",
    "tls": "cdktf_cdktf_provider_tls",
}


def interpreter_flags() -> list[str]:
    """The Python flags of cdktf.json's app command (``-O``: see README "Fast synth"), so the
    benchmark times the synth the CLI and the Makefile run, not a variant of it."""
    app = shlex.split(json.loads((ROOT / "cdktf.json").read_text())["app"])
    return app[1:app.index("main.py")]


def timed(command: list[str]) -> float:
    env = {**os.environ, "NODE_OPTIONS": os.environ.get("NODE_OPTIONS", "--no-deprecation")}
    start = time.perf_counter()
    if subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        raise ToolError(f"`{shlex.join(command[1:])}` failed (its error is above); fix: what it names, then bench again")
    return time.perf_counter() - start


def providers_used(outdir: Path) -> list[str]:
    names: set[str] = set()
    for stack_json in outdir.glob("stacks/*/cdk.tf.json"):
        names |= set(json.loads(stack_json.read_text()).get("terraform", {}).get("required_providers", {}))
    return sorted(names)


def floor_command(providers: list[str]) -> list[str]:
    # `import vault_platform` first: the same shallow loader the synth uses, so the floor is
    # the bindings' type assemblies, not the eager imports the project avoids.
    imports = ", ".join(["vault_platform", "cdktf", *(BINDINGS[p] for p in providers)])
    return [sys.executable, *interpreter_flags(), "-c", f"import {imports}"]


def all_environments(runs: int) -> int:
    """`main.py --all-envs` against `main.py` (the first environment alone), alternately; the
    difference spread over the other environments is what each one adds."""
    from vault_platform.config import environment_names

    names = environment_names()
    with tempfile.TemporaryDirectory(prefix="bench-") as work:
        python = [sys.executable, *interpreter_flags()]
        first = [*python, "main.py", "--env", names[0], "--outdir", str(Path(work) / "first")]
        every = [*python, "main.py", "--all-envs", "--outdir", str(Path(work) / "all")]
        timed(first)
        timed(every)
        first_times, all_times = [], []
        for run in range(1, runs + 1):
            first_times.append(timed(first))
            all_times.append(timed(every))
            print(f"  run {run}/{runs}: {names[0]} alone {first_times[-1]:.2f} s, all {len(names)} {all_times[-1]:.2f} s", file=sys.stderr)
        stacks = len(list((Path(work) / "all").glob("stacks/*/cdk.tf.json")))
    first_median, all_median = statistics.median(first_times), statistics.median(all_times)
    added = (all_median - first_median) / max(len(names) - 1, 1)
    share = added / first_median
    print(f"environments:       {', '.join(names)} ({stacks} stacks in one output)")
    print(f"first alone:        {first_median:.2f} s  (median of {runs}; {names[0]})")
    print(f"all environments:   {all_median:.2f} s  (median of {runs})")
    print(f"added per env:      {added:.2f} s = {share:.1%} of the first  (target <= {TARGET_ADDED_PER_ENVIRONMENT:.0%})")
    print(f"target: {'met' if share <= TARGET_ADDED_PER_ENVIRONMENT else 'MISSED'}")
    return 0


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m vault_platform.ops.bench", description="synth time of all stacks vs. loading the provider libraries")
    parser.add_argument("--env", default="default")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--all-envs", action="store_true", help="added synth time of each environment after the first")
    args = parser.parse_args(argv)
    if args.all_envs:
        return all_environments(args.runs)

    with tempfile.TemporaryDirectory(prefix="bench-") as work:
        outdir = Path(work) / "cdktf.out"
        synth = [sys.executable, *interpreter_flags(), "main.py", "--env", args.env, "--outdir", str(outdir)]
        timed(synth)  # warm-up: compiles bytecode, fills the OS cache; also tells which providers
        providers = providers_used(outdir)
        floor = floor_command(providers)
        timed(floor)
        synth_times, floor_times, ratios = [], [], []
        for run in range(1, args.runs + 1):
            synth_times.append(timed(synth))
            floor_times.append(timed(floor))
            ratios.append(synth_times[-1] / floor_times[-1])
            print(f"  run {run}/{args.runs}: synth {synth_times[-1]:.2f} s, floor {floor_times[-1]:.2f} s", file=sys.stderr)
        stacks = len(list(outdir.glob("stacks/*/cdk.tf.json")))

    synth_median, floor_median, ratio = (statistics.median(x) for x in (synth_times, floor_times, ratios))
    print(f"environment:        {args.env} ({stacks} stacks; providers: {', '.join(providers)})")
    print(f"synth, all stacks:  {synth_median:.2f} s  (median of {args.runs}; min {min(synth_times):.2f}, max {max(synth_times):.2f})")
    print(f"floor (bindings):   {floor_median:.2f} s  (import cdktf + {', '.join(BINDINGS[p] for p in providers)})")
    print(f"ratio synth/floor:  {ratio:.2f}  (median of per-run ratios; target <= {TARGET_RATIO})")
    met = ratio <= TARGET_RATIO and synth_median <= TARGET_SECONDS
    print(f"targets (ratio <= {TARGET_RATIO}, synth <= {TARGET_SECONDS:.0f} s): {'met' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
