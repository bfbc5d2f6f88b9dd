"""One real OpenBao server, TLS on, in-memory storage, initialised and unsealed (Shamir 1/1).

For the tests of what runs *on* Vault (the database engine, the agent), where the raft
cluster and its KMS seal (vault-core's harness) add start-up time and prove nothing more.
OpenBao stands in for HashiCorp Vault (README, "OpenBao stands in for Vault").
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vault_platform.errors import ToolError
from vault_platform.ops.emulator import HOST, free_port, stop_process_group
from vault_platform.vaultlab.cluster import PORT_ATTEMPTS, PORT_TAKEN, VaultClient, bao_binary
from vault_platform.vaultlab.tls import write_lab_tls

START_TIMEOUT_S = 30.0


class VaultLabError(ToolError):
    """The lab Vault did not come up or refused a call; one line, no secret."""


@dataclass(frozen=True)
class VaultServer:
    addr: str
    ca_cert: Path
    root_token: str

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             token: str | None = None) -> dict[str, Any]:
        return vault_call(self.addr, self.ca_cert, method, path, body, token or self.root_token)


def vault_call(addr: str, ca_cert: Path, method: str, path: str, body: dict[str, Any] | None,
               token: str | None) -> dict[str, Any]:
    """The JSON answer; an HTTP error raises, with Vault's "errors" on one line."""
    answer = VaultClient(addr, ca_cert, token).request(method, path, body, timeout=30)
    if answer.status >= 400:
        errors = " ".join(" ".join(str(error).split()) for error in answer.body.get("errors", []))
        raise VaultLabError(f"{method} {path} -> HTTP {answer.status}: {errors}")
    return answer.body


def _server_config(port: int, tls_dir: Path) -> str:
    return f"""
storage "inmem" {{}}
listener "tcp" {{
  address       = "{HOST}:{port}"
  tls_cert_file = "{tls_dir / 'tls.crt'}"
  tls_key_file  = "{tls_dir / 'tls.key'}"
}}
api_addr      = "https://{HOST}:{port}"
disable_mlock = true
"""


def _wait_until_answering(addr: str, ca_cert: Path, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise VaultLabError(f"bao server exited with {process.returncode}: {log.read_text()[-800:]}")
        try:
            # A short timeout: what holds the port may be another process that accepts and never
            # answers, while the server has already exited (checked above).
            if VaultClient(addr, ca_cert).request("GET", "sys/init", timeout=2.0).status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise VaultLabError(f"bao server did not answer on {addr}: {log.read_text()[-800:]}")
        time.sleep(0.1)


@contextlib.contextmanager
def running_vault() -> Iterator[VaultServer]:
    """An initialised, unsealed server and its root token (for the test's own set-up only)."""
    workdir = Path(tempfile.mkdtemp(prefix="vaultlab-bao-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        tls = write_lab_tls(workdir / "tls")
        for attempt in range(1, PORT_ATTEMPTS + 1):
            port = free_port()  # another process may take it before bao binds it (cluster.PORT_TAKEN)
            config = workdir / "server.hcl"
            config.write_text(_server_config(port, tls.directory))
            log = workdir / f"server-{attempt}.log"
            with log.open("wb") as log_file:
                process = subprocess.Popen([str(bao_binary()), "server", f"-config={config}"], stdout=log_file,
                                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                           env={"PATH": os.environ.get("PATH", ""), "HOME": str(workdir)})
            addr = f"https://{HOST}:{port}"
            try:
                _wait_until_answering(addr, tls.ca_cert, process, log)
                break
            except VaultLabError:
                if attempt == PORT_ATTEMPTS or PORT_TAKEN not in log.read_text(errors="replace"):
                    raise
                stop_process_group(process)
                process = None
        init = vault_call(addr, tls.ca_cert, "PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1}, None)
        vault_call(addr, tls.ca_cert, "PUT", "sys/unseal", {"key": init["keys"][0]}, None)
        server = VaultServer(addr=addr, ca_cert=tls.ca_cert, root_token=init["root_token"])
        # Active at once (one unsealed inmem node, no HA); sys/health answers 429/503 otherwise,
        # which server.call raises on.
        server.call("GET", "sys/health")
        yield server
    finally:
        if process is not None:
            stop_process_group(process)
        shutil.rmtree(workdir, ignore_errors=True)
