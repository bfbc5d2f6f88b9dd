"""Session fixtures that mostly wait, run in a process of their own beside the test workers.

The emulator round trip of environments/multi.toml is about 350 s of wall clock but only
about 140 s of CPU: most of it is the AWS provider's own fixed waits (the database's
create and update each wait a minute before the first poll, the KMS keys and the bucket's
lifecycle poll for propagation). Built inside a worker, it held that worker idle for most
of `make test`. So `tests/conftest.py` starts each job named here when the collection
holds a test of its xdist group, in one process (the first worker's, or the only one),
as `python -m tests.background <job> <directory>`; the job's fixture then only waits for
the result file, and conftest schedules those tests last so the workers run everything
else meanwhile (README "Test tiers"). Nothing about what the tests assert changes: the
same function builds the same result, pickled instead of returned.

A job is registered once, below, by the name of the xdist group whose tests read it.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

RESULT = "result.pickle"
FAILED = "failed.pickle"
LOG = "job.log"
PID = "job.pid"
CLAIM = "claimed"
# A job that has not answered by then is reported as hung (the round trip's own steps time
# out after 300 s each; this only guards a wedged process).
WAIT_SECONDS = 40 * 60


def _emulator_round_trip_multi(workdir: Path) -> Any:
    from vault_platform.ops.emulator_deploy import round_trip

    return round_trip(workdir, environment="multi", rehearse_teardown=True)


# xdist group -> the function that builds what its tests read, given a fresh directory.
JOBS: dict[str, Callable[[Path], Any]] = {
    "emulator-round-trip": _emulator_round_trip_multi,
}


def job_directory(base: Path, group: str) -> Path:
    return base / f"background-{group}"


def shared_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's temporary root that every xdist worker sees (a worker's basetemp is
    <root>/popen-gwN; without xdist the basetemp is the root)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def claim(group: str, base: Path) -> bool:
    """True for the one caller that is to start the job in this run (the file is created
    exclusively: the controller and a worker's fixture may both try)."""
    directory = job_directory(base, group)
    directory.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(directory / CLAIM, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


# Jobs before workers. This kernel shares CPU time between sessions before it shares it
# between processes (sched autogroup, /proc/<pid>/autogroup), and each job runs in a session
# of its own (so that stop() can end its process group): a worker's nice value would rank it
# only within its own session, not below a job. So each xdist worker starts a session of its
# own and lowers that session's share: the round trip, the run's longest chain, mostly waits,
# and when it does want the CPU it should not queue behind the workers, which take what it
# leaves (docs/test-speed.md has the runs; the evidence for this part is mixed, and so written).
AUTOGROUP = Path("/proc/self/autogroup")
WORKER_AUTOGROUP_NICE = 10


def run_below_jobs() -> bool:
    """Put this process (an xdist worker) in a session of its own at a lower CPU share; False
    where the kernel has no autogroups or refuses. Its children inherit the session."""
    if not AUTOGROUP.exists():
        return False
    try:
        os.setsid()
        AUTOGROUP.write_text(str(WORKER_AUTOGROUP_NICE))
    except OSError:
        return False
    return True


def start(group: str, base: Path) -> subprocess.Popen[bytes]:
    directory = job_directory(base, group)
    with (directory / LOG).open("wb") as log:
        # Own session: stop() ends the job and every process it started (emulator, terraform).
        process = subprocess.Popen([sys.executable, "-m", "tests.background", group, str(directory)],
                                   cwd=Path(__file__).resolve().parents[1], stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    partial = directory / f"{PID}.partial"
    partial.write_text(str(process.pid))
    partial.rename(directory / PID)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    """End a job that is still running when the session ends (interrupted, or its tests
    deselected after the start): SIGTERM lets the round trip stop its emulator."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A finished child of this process stays a zombie until reaped: that is not running.
    try:
        return not Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


def result(group: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The job's result, waiting for it; the job is started here if conftest did not
    (a run that collected its tests some other way). Its failure is raised here."""
    base = shared_base(tmp_path_factory)
    directory = job_directory(base, group)
    if claim(group, base):
        start(group, base)
    deadline = time.monotonic() + WAIT_SECONDS
    started_by = time.monotonic() + 60
    while not (directory / PID).is_file():  # claimed by another process, which is starting it
        if time.monotonic() > started_by:
            raise RuntimeError(f"background job {group} was claimed but not started within 60 s ({directory})")
        time.sleep(0.2)
    pid = int((directory / PID).read_text())
    while True:
        if (directory / RESULT).is_file():
            return pickle.loads((directory / RESULT).read_bytes())
        if (directory / FAILED).is_file():
            error, text = pickle.loads((directory / FAILED).read_bytes())
            if isinstance(error, BaseException):
                raise error
            raise RuntimeError(f"background job {group} failed:\n{text}")
        if not _alive(pid):
            time.sleep(0.5)  # the result may have landed after the last look
            if (directory / RESULT).is_file() or (directory / FAILED).is_file():
                continue
            tail = "\n".join((directory / LOG).read_text(errors="replace").splitlines()[-20:])
            raise RuntimeError(f"background job {group} exited without a result; its log ends:\n{tail}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"background job {group} gave no result within {WAIT_SECONDS} s "
                               f"(log: {directory / LOG})")
        time.sleep(1)


def summary(group: str, base: Path) -> str | None:
    """One line for the end of the run: how long the job took, from its start to its answer."""
    directory = job_directory(base, group)
    answer = next((directory / name for name in (RESULT, FAILED) if (directory / name).is_file()), None)
    if answer is None or not (directory / PID).is_file():
        return None
    seconds = answer.stat().st_mtime - (directory / PID).stat().st_mtime
    return f"background job {group}: {'done' if answer.name == RESULT else 'FAILED'} in {seconds:.0f} s (log: {directory / LOG})"


def _write(path: Path, value: object) -> None:
    partial = path.with_suffix(".partial")
    partial.write_bytes(pickle.dumps(value))
    partial.rename(path)  # atomic: a reader never sees half a file


def main(argv: list[str]) -> int:
    group, directory = argv[0], Path(argv[1])
    workdir = directory / "work"
    workdir.mkdir(exist_ok=True)
    try:
        value = JOBS[group](workdir)
    except BaseException as error:  # noqa: BLE001 - every failure goes to the waiting test
        text = traceback.format_exc()
        print(text, file=sys.stderr)
        try:
            _write(directory / FAILED, (error, text))
        except (pickle.PicklingError, TypeError, AttributeError):
            _write(directory / FAILED, (None, text))
        return 1
    _write(directory / RESULT, value)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
