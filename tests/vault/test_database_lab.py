"""The lab's PostgreSQL is run as RDS runs the platform's: what postgres.py promises, checked."""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
from pathlib import Path

import pg8000.native
import pytest

import vault_platform.vaultlab.postgres as lab_postgres
from vault_platform.ops.emulator import free_port
from vault_platform.vaultlab.postgres import EXISTING_TABLE, TABLE_OWNER, running_postgres

pytestmark = pytest.mark.integration


def test_tls_and_scram_are_required_and_the_master_is_no_superuser() -> None:
    with running_postgres("demo", "dbadmin") as postgres:
        # Without TLS: no pg_hba line matches (hostssl only), as with rds.force_ssl=1.
        with pytest.raises(pg8000.native.DatabaseError, match="no pg_hba.conf entry"):
            pg8000.native.Connection("dbadmin", password=postgres.master_password, host=postgres.host,
                                     port=postgres.port, database="demo", ssl_context=False)
        with contextlib.closing(postgres.connect_as_master()) as conn:
            [[superuser, createrole, owner]] = conn.run(
                "SELECT rolsuper, rolcreaterole, pg_get_userbyid(datdba) FROM pg_roles, pg_database "
                "WHERE rolname = current_user AND datname = current_database()")
            [[table_owner]] = conn.run(f"SELECT tableowner FROM pg_tables WHERE schemaname || '.' || tablename "
                                       f"= '{EXISTING_TABLE}'")
        assert (superuser, createrole, owner, table_owner) == (False, True, "dbadmin", TABLE_OWNER)
        with contextlib.closing(postgres.connect_as_superuser()) as conn:
            [[stored]] = conn.run("SELECT rolpassword FROM pg_authid WHERE rolname = 'dbadmin'")
        assert stored.startswith("SCRAM-SHA-256$")
        if os.geteuid() == 0:  # initdb refuses root: the server runs as nobody
            with contextlib.closing(postgres.connect_as_superuser()) as conn:
                [[data_dir]] = conn.run("SHOW data_directory")
            assert Path(data_dir).stat().st_uid != 0


def test_a_port_taken_before_postgres_binds_it_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        ports = itertools.chain([taken], iter(free_port, None))
        monkeypatch.setattr(lab_postgres, "free_port", lambda: next(ports))
        with running_postgres("demo", "dbadmin") as postgres:
            assert postgres.port != taken
            postgres.connect_as_master().close()
            data_dir = Path(postgres.ca_cert).parents[1]
        assert not data_dir.exists()
