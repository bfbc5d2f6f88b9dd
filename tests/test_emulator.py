"""The emulator starts on a free port, answers, and never outlives its owner."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request

import pytest

from vault_platform.emulator import HOST, Emulator, EmulatorError, one_request_at_a_time


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose; it only waits to be reaped.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def _wait_dead(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_started_on_localhost_answers_and_stops_after_the_with_block() -> None:
    with Emulator() as emulator:
        pid = emulator.pid
        assert emulator.endpoint.startswith(f"http://{HOST}:")
        env = emulator.aws_env("eu-west-1")
        assert env["AWS_ENDPOINT_URL"] == emulator.endpoint and env["AWS_MAX_ATTEMPTS"] == "3"
        with urllib.request.urlopen(f"{emulator.endpoint}/moto-api/") as response:
            assert response.status == 200
    assert pid is not None and _wait_dead(pid)


def test_stopped_when_the_block_fails() -> None:
    with pytest.raises(RuntimeError, match="boom"), Emulator() as emulator:
        pid = emulator.pid
        raise RuntimeError("boom")
    assert _wait_dead(pid)


def test_taken_port_is_one_clear_error_and_nothing_starts() -> None:
    with socket.socket() as busy:
        busy.bind((HOST, 0))
        busy.listen()
        port = busy.getsockname()[1]
        emulator = Emulator(port)
        with pytest.raises(EmulatorError, match=f"port {HOST}:{port} is already in use") as error:
            emulator.start()
        assert "\n" not in str(error.value)
        assert emulator.pid is None


@pytest.mark.parametrize("ending", ["sigterm", "exit-without-with"])
def test_server_does_not_outlive_its_owner_process(ending: str) -> None:
    """SIGTERM (CI cancelling a job) and a plain exit both stop the server (signal handler, atexit)."""
    script = textwrap.dedent(f"""
        import os, signal, sys, time
        from vault_platform.emulator import Emulator
        emulator = Emulator().start()
        print(emulator.pid, flush=True)
        if {ending!r} == "sigterm":
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)
        sys.exit(0)
    """)
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    server_pid = int(process.stdout.split()[0])
    assert process.returncode == (128 + signal.SIGTERM if ending == "sigterm" else 0), process.stderr
    assert _wait_dead(server_pid), "the emulator outlived the process that started it"


def test_every_eks_cluster_gets_its_own_oidc_issuer() -> None:
    """The one correction the emulator process makes (emulator_gaps.PATCHED_ON_EMULATOR)."""
    boto3 = pytest.importorskip("boto3")
    with Emulator() as emulator:
        eks = boto3.client("eks", endpoint_url=emulator.endpoint, region_name="eu-west-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        issuers = set()
        for name in ("one", "two"):
            eks.create_cluster(name=name, roleArn="arn:aws:iam::123456789012:role/eks",
                               resourcesVpcConfig={"subnetIds": []})
            issuers.add(eks.describe_cluster(name=name)["cluster"]["identity"]["oidc"]["issuer"])
    assert len(issuers) == 2


def test_the_server_answers_one_request_at_a_time() -> None:
    """moto's backends are not thread-safe; the wrapper the server runs under lets one
    request in at a time, its body included. Unwrapped, the same app overlaps."""
    def overlap(app) -> int:
        inside, most, guard = 0, 0, threading.Lock()

        def slow_app(environ, start_response):
            nonlocal inside, most
            with guard:
                inside += 1
                most = max(most, inside)
            time.sleep(0.05)
            yield b"body"  # the body is part of the request: moto renders it from its models
            with guard:
                inside -= 1

        wrapped = app(slow_app)
        threads = [threading.Thread(target=lambda: list(wrapped({}, lambda *a: None))) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return most

    assert overlap(lambda app: app) > 1
    assert overlap(one_request_at_a_time) == 1
