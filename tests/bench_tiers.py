"""`make bench-tests`: time both test tiers as the Makefile runs them, median of N runs.

Wall-clock time of the whole pytest process (what a developer waits for), plus its CPU time
(user + system of pytest and everything it waited for), which says how much of the wall
time a busier machine would stretch. Each run's pytest summary line is kept, so a figure
never comes from a failing run without saying so.
"""

from __future__ import annotations

import argparse
import resource
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    returncode: int
    summary: str


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: str) -> Run:
    cpu_before, start = _children_cpu(), time.perf_counter()
    result = subprocess.run(shlex.split(command) + ["-q", "-p", "no:cacheprovider"], cwd=ROOT,
                            capture_output=True, text=True)
    wall, cpu = time.perf_counter() - start, _children_cpu() - cpu_before
    lines = [line for line in result.stdout.strip().splitlines() if line.strip()]
    return Run(wall, cpu, result.returncode, lines[-1].strip("= ") if lines else "no output")


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{int(seconds // 60)} min {seconds % 60:02.0f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench_tiers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--check", required=True, help="the quick tier's pytest command")
    parser.add_argument("--test", required=True, help="the full tier's pytest command")
    parser.add_argument("--tiers", default="check,test", help="which tiers to time (default: both)")
    args = parser.parse_args(argv)
    failed = False
    chosen = set(args.tiers.split(","))
    for tier, command in (("make check", args.check), ("make test", args.test)):
        if tier.split()[1] not in chosen:
            continue
        runs = []
        for number in range(1, args.runs + 1):
            run = timed(command)
            runs.append(run)
            print(f"{tier:<10} run {number}/{args.runs}: {_minutes(run.wall):>12} wall, {_minutes(run.cpu):>12} CPU  "
                  f"({run.summary})", flush=True)
            failed |= run.returncode != 0
        print(f"{tier:<10} median of {args.runs}: {_minutes(statistics.median(r.wall for r in runs))} wall, "
              f"{_minutes(statistics.median(r.cpu for r in runs))} CPU", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
