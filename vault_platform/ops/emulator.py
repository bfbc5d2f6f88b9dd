"""A local AWS emulator (moto's server) that the project starts and stops itself.

The synthesized JSON is the same one that targets a real account: only the environment
Terraform runs in changes (``AWS_ENDPOINT_URL`` and friends, see ``Emulator.aws_env``).

The server is bound to 127.0.0.1 on a free port, health-checked before anything uses it,
and stopped when the ``with`` block ends, when the interpreter exits (atexit) and on
SIGTERM/SIGHUP (turned into SystemExit so the ``with`` block unwinds; Ctrl-C already
raises KeyboardInterrupt), so a failed or interrupted run leaves no server behind.

``python -m vault_platform.ops.emulator`` is the server process itself: moto's server with the
corrections listed in ``emulator_gaps.PATCHED_ON_EMULATOR`` (``emulator_patches``).
"""

from __future__ import annotations

import atexit
import collections
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import typing
import urllib.error
import urllib.request
from types import FrameType

from vault_platform.binaries import PIPFILE_FIX
from vault_platform.errors import ToolError

HOST = "127.0.0.1"
# Any value works against moto; the account it reports is always 123456789012.
TEST_ACCESS_KEY = "testing"
EMULATOR_ACCOUNT_ID = "123456789012"
STARTUP_TIMEOUT_SECONDS = 30.0


class EmulatorError(ToolError):
    """The emulator could not be started; the message is one line naming the fix."""


class EmulatorPortTaken(EmulatorError):
    """The port was in use, or taken before the server bound it."""


# Picks of a free port before a start gives up (each taken pick is a race lost, not a fault).
PORT_ATTEMPTS = 5


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return True
        return False


def stop_process_group(process: subprocess.Popen, signum: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    """Signal a server started with ``start_new_session=True`` (its own process group, so
    nothing else is hit), wait for it, and kill it if it outlives ``timeout``."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signum)
        process.wait(timeout=timeout)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


class Emulator:
    """moto's server as a context manager::

        with Emulator() as emulator:
            subprocess.run([...], env={**os.environ, **emulator.aws_env(region)})
    """

    def __init__(self, port: int | None = None, *, startup_timeout: float = STARTUP_TIMEOUT_SECONDS) -> None:
        self.requested_port = port
        self.port: int | None = None
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log: typing.IO[bytes] | None = None
        self._previous_handlers: dict[int, object] = {}

    @property
    def endpoint(self) -> str:
        if self.port is None:
            raise EmulatorError("the emulator is not running; use it inside `with Emulator() as emulator:`")
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def aws_env(self, region: str) -> dict[str, str]:
        """What the AWS provider (and the AWS CLI/SDKs) need to talk to the emulator."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": TEST_ACCESS_KEY,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_S3_USE_PATH_STYLE": "true",
            # An unimplemented API answers 500; the default retry policy waits >10 minutes on it.
            "AWS_MAX_ATTEMPTS": "3",
            # Neither a user's profile nor an instance role may leak into an emulator run.
            "AWS_PROFILE": "",
            "AWS_SESSION_TOKEN": "",
            "AWS_EC2_METADATA_DISABLED": "true",
            # No -parallelism here (it was 4): the server answers one request at a time
            # (one_request_at_a_time), but most of a create on it is the provider's own
            # waiting (a KMS key 12 s, the database 80 s, the bucket's lifecycle 55 s), which
            # holds one of Terraform's slots and sends nothing. With 4 slots, four waiting
            # resources stalled the rest of a stack; a retried create is answered from the
            # replay, not created twice. Measured: the multi round trip's deploy 180 s at
            # Terraform's default 10 under load 7-8, 204 s at 4 under load 1-3.
        }

    def start(self) -> Emulator:
        if self.requested_port is not None:
            return self._start_on(self.requested_port)
        # A port picked here can be taken before the server binds it: free_port's probe closes
        # first, and the kernel hands a just-freed port to the next client connection as its
        # source port (seen in CI: the round trip's pick, taken at the start of a busy run). A
        # port the caller did not ask for is therefore picked again, a few times.
        for _ in range(PORT_ATTEMPTS - 1):
            try:
                return self._start_on(free_port())
            except EmulatorPortTaken:
                continue
        return self._start_on(free_port())

    def _start_on(self, port: int) -> Emulator:
        if _port_in_use(port):
            raise EmulatorPortTaken(f"emulator port {HOST}:{port} is already in use; stop what listens there "
                                    "or leave the port unset to pick a free one")
        env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
        # moto logs every request: to a file, since a pipe nobody drains fills up and blocks
        # the server mid-run. Own process group: stop() signals the server and nothing else.
        self._log = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "vault_platform.ops.emulator", "-H", HOST, "-p", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=self._log, start_new_session=True,
        )
        self.port = port
        atexit.register(self.stop)
        self._install_signal_handlers()
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        url = f"{self.endpoint}/moto-api/"
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                self._log.seek(0)
                stderr = self._log.read().decode(errors="replace")
                last = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit code {self._process.returncode}"
                if "Address already in use" in stderr:  # taken between the check and the bind
                    raise EmulatorPortTaken(f"emulator port {HOST}:{self.port} was taken before the server bound it: {last}")
                raise EmulatorError(f"the emulator (moto server) exited at start: {last}; "
                                    f"fix: {PIPFILE_FIX.format(pin='moto[server]==5.2.5')}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise EmulatorError(f"the emulator did not answer on {url} within {self.startup_timeout:.0f}s; "
                            "the machine may be overloaded, retry")

    def reset(self) -> None:
        """Forget every resource (moto keeps state in memory only)."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def stop(self) -> None:
        process, self._process = self._process, None
        self._restore_signal_handlers()
        if process is None:
            return
        atexit.unregister(self.stop)
        stop_process_group(process)
        if self._log is not None:
            self._log.close()
            self._log = None
        self.port = None

    # A signal becomes SystemExit so `with` blocks (and their stop()) unwind as on an error.
    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # handlers can only be set from the main thread; atexit still covers this case
        for signum in (signal.SIGTERM, signal.SIGHUP):
            previous = signal.getsignal(signum)
            if previous in (signal.SIG_DFL, None):
                self._previous_handlers[signum] = previous
                signal.signal(signum, _exit_on_signal)

    def _restore_signal_handlers(self) -> None:
        for signum, previous in self._previous_handlers.items():
            signal.signal(signum, previous)  # type: ignore[arg-type]
        self._previous_handlers.clear()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


# How many answered requests the emulator remembers for SDK retries (a round trip sends a few
# thousand; older ones can no longer be retried by then).
REMEMBERED_ANSWERS = 5000


def one_request_at_a_time(app: typing.Callable) -> typing.Callable:
    """A WSGI app that runs ``app`` for one request at a time, body included, and answers an
    AWS SDK retry of a request it has already carried out with that first answer.

    moto's server accepts connections on many threads, but its backends are not thread-safe
    (getmoto/moto#372, #10185): two EC2 calls at once can raise inside moto after it has
    stored the resource, the 500 makes the AWS SDK retry the create, and the retry fails as
    a duplicate (InvalidGroup.Duplicate, InvalidLaunchTemplateName.AlreadyExistsException:
    both seen in this project's round trip). Serialised, every call sees a consistent model.

    Serialised, a request can also wait behind slower ones (moto loads every AWS managed
    policy on the first IAM call) while the machine is busy, and the SDK gives up on the
    attempt and sends it again; moto then carries out the create twice and the second answer
    is a duplicate (FlowLogAlreadyExists, EntityAlreadyExists: seen in this project's round
    trip). Every attempt of one SDK call carries the same ``amz-sdk-invocation-id`` header
    (SDK retry behaviour, both Go SDKs the provider uses), so a retry of a call that already
    succeeded gets that success again instead of running twice: what the SDK would have read
    had the first answer reached it, which on AWS it does within milliseconds. Failed answers
    are not remembered: a retry of those runs again, as on AWS. Each replay is logged.
    """
    lock = threading.Lock()
    answered: collections.OrderedDict[str, tuple[str, list, list[bytes]]] = collections.OrderedDict()

    def serialized(environ: dict, start_response: typing.Callable) -> list[bytes]:
        invocation = environ.get("HTTP_AMZ_SDK_INVOCATION_ID")
        with lock:
            if invocation and invocation in answered:
                status, headers, body = answered[invocation]
                print(f"emulator: replayed the answer ({status}) to a retry of invocation {invocation}",
                      file=sys.stderr, flush=True)
                start_response(status, headers)
                return body
            sent: dict[str, typing.Any] = {}

            def keep_status(status: str, headers: list, exc_info: object = None) -> typing.Callable:
                sent["status"], sent["headers"] = status, list(headers)
                return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

            body = list(app(environ, keep_status))
            if invocation and str(sent.get("status", "")).startswith("2"):
                answered[invocation] = (sent["status"], sent["headers"], body)
                while len(answered) > REMEMBERED_ANSWERS:
                    answered.popitem(last=False)
            return body

    return serialized


def _serve(argv: list[str]) -> None:
    """moto's server, one request at a time (``one_request_at_a_time``), with the corrections
    of ``emulator_patches`` (listed in ``emulator_gaps.PATCHED_ON_EMULATOR``)."""
    from vault_platform.ops import emulator_patches

    emulator_patches.apply_all()
    import moto.server

    run_simple = moto.server.run_simple

    def run_serialized(host: str, port: int, app: typing.Callable, **options: object) -> None:
        run_simple(host, port, one_request_at_a_time(app), **options)

    moto.server.run_simple = run_serialized  # type: ignore[assignment]
    moto.server.main(argv)


if __name__ == "__main__":
    _serve(sys.argv[1:])
