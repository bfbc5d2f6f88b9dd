"""Benchmark: synth of every stack against the floor of loading the provider libraries alone.

    python -m vault_platform.bench [--env NAME] [--runs N]

Each figure is a whole process, as a user runs it: ``python main.py`` for the synth, and for
the floor a process that imports cdktf and the provider bindings the stacks use (their jsii
type assemblies are the cost no project can avoid). The two run alternately, pair by pair,
and the medians and the median of the per-pair ratios are printed, so a machine that speeds
up or slows down during the run does not skew the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 1.3
TARGET_SECONDS = 10.0
# Terraform provider name -> the Python package of its cdktf bindings.
BINDINGS = {
    "aws": "cdktf_cdktf_provider_aws",
    "kubernetes": "cdktf_cdktf_provider_kubernetes",
    "helm": "cdktf_cdktf_provider_helm",
    "tls": "cdktf_cdktf_provider_tls",
}


def timed(command: list[str]) -> float:
    env = {**os.environ, "NODE_OPTIONS": os.environ.get("NODE_OPTIONS", "--no-deprecation")}
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
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
    return [sys.executable, "-c", f"import {imports}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="synth time of all stacks vs. loading the provider libraries")
    parser.add_argument("--env", default="default")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-") as work:
        outdir = Path(work) / "cdktf.out"
        synth = [sys.executable, "main.py", "--env", args.env, "--outdir", str(outdir)]
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
