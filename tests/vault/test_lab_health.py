"""The lab's health snapshot on a busy machine: a node whose answer takes longer than one
request's 3 s timeout is asked again, not reported as down (CI once saw [501, 501, None] for
an uninitialised cluster with four test workers beside the emulator round trip). Against a
real HTTPS server on 127.0.0.1 that is slow to answer its first request."""

from __future__ import annotations

import http.server
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from vault_platform.vaultlab import VaultLab
from vault_platform.vaultlab.cluster import VaultClient
from vault_platform.vaultlab.tls import write_lab_tls

pytestmark = pytest.mark.integration

FIRST_ANSWER_DELAY = 4.0  # over VaultClient.health's 3 s timeout


class SlowFirstAnswer(http.server.BaseHTTPRequestHandler):
    """/v1/sys/health as an uninitialised Vault answers it (501), the first time late."""

    answered = 0

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).answered += 1
        if type(self).answered == 1:
            time.sleep(FIRST_ANSWER_DELAY)
        body = b'{"initialized": false}'
        self.send_response(501)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_node(tmp_path: Path) -> Iterator[SimpleNamespace]:
    tls = write_lab_tls(tmp_path / "tls")
    SlowFirstAnswer.answered = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowFirstAnswer)
    server.block_on_close = False  # a handler still sleeping ends with the test's process, not the test
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.cert, tls.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(running=True, client=VaultClient(f"https://127.0.0.1:{server.server_address[1]}", tls.ca_cert))
    finally:
        server.shutdown()
        server.server_close()


def test_a_node_slower_than_one_request_is_asked_again(slow_node: SimpleNamespace) -> None:
    started = time.monotonic()
    assert VaultLab._answer(slow_node, patience=30.0) == 501  # noqa: SLF001 - the snapshot's per-node read
    assert time.monotonic() - started >= 3.0, "the first request should have timed out"


def test_without_patience_the_slow_node_reads_as_down(slow_node: SimpleNamespace) -> None:
    """What the snapshot did before: one request, None."""
    assert VaultLab._answer(slow_node, patience=0.0) is None  # noqa: SLF001
