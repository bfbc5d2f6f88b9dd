"""Where a test run's CPU time goes: `pytest -p tests.cpu_report ...` (`make cpu-report`).

`make test` on two cores is bound by its CPU time as much as by any one long test
(docs/test-speed.md), so this measures CPU, not wall clock: for each test, the CPU its worker
spent (user + system) plus that of the worker's child processes meanwhile (synths,
Terraform, OpenBao, Helm, and the jsii kernel's Node, read from /proc while they run). Each
worker appends one JSON line per test to the run's temporary root; the controller (or the
only process) prints the files and xdist groups that used the most, and the run's total.
Measurement only: nothing here changes what a test does.
"""

from __future__ import annotations

import collections
import json
import os
import resource

import pytest

from tests import background
from tests.processes import children

RECORDS = "cpu-report.jsonl"
SHOWN = 25
TICKS = os.sysconf("SC_CLK_TCK")


def _live_children_cpu() -> float:
    """CPU of this process's children that are still running (the jsii kernel, servers a
    fixture keeps up): counted as it is spent, not only once they are reaped."""
    return sum(int(fields[11]) + int(fields[12]) for fields in children(os.getpid()).values()) / TICKS


def _cpu_seconds() -> float:
    own, reaped = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime + _live_children_cpu()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):  # noqa: ANN201 - pluggy hookwrapper
    before = _cpu_seconds()
    yield
    group = next((mark.args[0] for mark in item.iter_markers("xdist_group") if mark.args), None)
    record = {"test": item.nodeid, "file": item.nodeid.split("::")[0], "group": group, "cpu": _cpu_seconds() - before}
    path = background.shared_base(item.config._tmp_path_factory) / RECORDS  # noqa: SLF001 - pytest's own factory
    with path.open("a") as handle:  # one short line per append: whole lines from concurrent workers
        handle.write(json.dumps(record) + "\n")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    path = background.shared_base(config._tmp_path_factory) / RECORDS  # noqa: SLF001
    if not path.is_file():
        return
    records = [json.loads(line) for line in path.read_text().splitlines() if line]
    by_file: collections.Counter[str] = collections.Counter()
    for record in records:
        by_file[record["file"]] += record["cpu"]
    own = resource.getrusage(resource.RUSAGE_CHILDREN)  # the workers and background jobs, once reaped
    write = terminalreporter.write_line
    write(f"cpu report: {sum(by_file.values()):.0f} s of CPU in {len(records)} tests "
          f"(this process's children so far: {own.ru_utime + own.ru_stime:.0f} s, background jobs included)")
    for name, seconds in by_file.most_common(SHOWN):
        write(f"  {seconds:7.1f} s  {name}")
