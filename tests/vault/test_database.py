"""The database engine end to end: configure.py against real OpenBao and PostgreSQL 16.

GIVEN a PostgreSQL run like RDS (TLS required, scram, a non-superuser master, a table owned by
another role) and a Vault with only the configure Job's policy, WHEN configure.py runs with
the master credential handed over in kv, THEN Vault works through its own login `vault`
and the demo-app role's credentials log in, read, and die when revoked or expired.
The test's copy of database.json differs from Git's only in TTLs (seconds, not minutes).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pg8000.native
import pytest

from vault_platform.config.load import load_environment
from vault_platform.vaultlab.database_engine import (
    DATABASE_JSON, bootstrap_database_engine, configure_script, configure_token, hand_over_master_credential,
    load_database_spec, run_configure_database,
)
from vault_platform.vaultlab.database_roles import check_roles
from vault_platform.vaultlab.postgres import EXISTING_TABLE, TABLE_OWNER, PostgresServer, running_postgres
from vault_platform.vaultlab.single_node import VaultLabError, VaultServer, running_vault

pytestmark = pytest.mark.integration

# Named as the platform's RDS instance is (environments/default.toml, the application cluster's database table).
DATABASE = load_environment("default").database_cluster.database
DATABASE_NAME, MASTER_USER = DATABASE.database_name, DATABASE.master_username


def short_ttl_copy(directory: Path, default_ttl: str, max_ttl: str) -> Path:
    """Git's database.json with the demo-app role's TTLs shortened, nothing else changed."""
    spec = json.loads(DATABASE_JSON.read_text())
    spec["roles"]["demo-app"].update(default_ttl=default_ttl, max_ttl=max_ttl)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "database.json").write_text(json.dumps(spec))
    return directory


class Lab:
    def __init__(self, vault: VaultServer, postgres: PostgresServer, config_dir: Path) -> None:
        self.vault, self.postgres, self.config_dir = vault, postgres, config_dir

    def credential(self, role: str = "demo-app") -> dict:
        return self.vault.call("GET", f"database/creds/{role}")

    def wait_until_gone(self, user: str, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while self.postgres.role_exists(user):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
        return True


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    config_dir = short_ttl_copy(tmp_path_factory.mktemp("config"), "30s", "60s")
    with running_postgres(DATABASE_NAME, MASTER_USER) as postgres, running_vault() as vault:
        # What the application team's migrations do: its tables' owner grants to the access role.
        bootstrap_database_engine(vault, postgres, config_dir)
        with contextlib.closing(postgres.connect_as_superuser()) as conn:
            conn.run(f"SET ROLE {TABLE_OWNER}; GRANT SELECT ON {EXISTING_TABLE} TO demo_app; RESET ROLE")
        yield Lab(vault, postgres, config_dir)


def test_vault_works_through_its_own_login_never_the_master(lab: Lab) -> None:
    connection = lab.vault.call("GET", "database/config/platform-postgres")["data"]
    assert connection["connection_details"]["username"] == "vault"
    # The master password is RDS's: Vault did not rotate it, it still logs in.
    lab.postgres.connect_as_master().close()
    with contextlib.closing(lab.postgres.connect_as_superuser()) as conn:
        [[superuser, createrole]] = conn.run("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = 'vault'")
        # It hands out demo_app (ADMIN OPTION) but cannot use its privileges itself.
        [[vault_reads]] = conn.run(f"SELECT has_table_privilege('vault', '{EXISTING_TABLE}', 'SELECT')")
    assert (superuser, createrole, vault_reads) == (False, True, False)
    # The handed-over master credential and the bootstrap connection are gone from Vault.
    for path in ("kv/data/platform/database-admin", "database/config/platform-postgres-bootstrap",
                 "database/roles/platform-postgres-bootstrap"):
        with pytest.raises(VaultLabError, match="HTTP 404"):
            lab.vault.call("GET", path)


def test_a_dynamic_credential_logs_in_over_tls_and_reads_a_table_another_role_owns(lab: Lab) -> None:
    credential = lab.credential()["data"]
    with contextlib.closing(lab.postgres.connect(credential["username"], credential["password"])) as conn:
        [[user, encrypted]] = conn.run("SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert (user, encrypted) == (credential["username"], True)
        assert conn.run(f"SELECT item, quantity FROM {EXISTING_TABLE} ORDER BY item") == [["gears", 5], ["widgets", 3]]
        # The access role reads; it does not write.
        with pytest.raises(pg8000.native.DatabaseError, match="permission denied"):
            conn.run(f"INSERT INTO {EXISTING_TABLE} VALUES ('bolts', 1)")


def test_revoking_the_lease_drops_the_user(lab: Lab) -> None:
    credential = lab.credential()
    username = credential["data"]["username"]
    assert lab.postgres.role_exists(username)
    lab.vault.call("PUT", "sys/leases/revoke", {"lease_id": credential["lease_id"]})
    assert not lab.postgres.role_exists(username)
    with pytest.raises(pg8000.native.DatabaseError, match="password authentication failed"):
        lab.postgres.connect(username, credential["data"]["password"])


def test_an_expired_lease_drops_the_user(lab: Lab) -> None:
    lab.vault.call("POST", "database/roles/short-lived", dict(
        load_database_spec()["roles"]["demo-app"], db_name="platform-postgres", default_ttl="2s", max_ttl="2s"))
    lab.vault.call("POST", "database/config/platform-postgres",
                   {"allowed_roles": ["demo-app", "short-lived"]})
    username = lab.credential("short-lived")["data"]["username"]
    assert lab.postgres.role_exists(username)
    assert lab.wait_until_gone(username), f"{username} outlived its 2 s lease"


def test_rotate_root_changes_vaults_password_and_the_old_one_stops_working(lab: Lab) -> None:
    with contextlib.closing(lab.postgres.connect_as_superuser()) as conn:
        conn.run("ALTER ROLE vault PASSWORD 'known-before-rotation'")
    lab.vault.call("POST", "database/config/platform-postgres", {"password": "known-before-rotation"})
    lab.postgres.connect("vault", "known-before-rotation").close()
    lab.vault.call("POST", "database/rotate-root/platform-postgres", {})
    with pytest.raises(pg8000.native.DatabaseError, match="password authentication failed"):
        lab.postgres.connect("vault", "known-before-rotation")
    assert lab.credential()["data"]["username"].startswith("v-")  # Vault still logs in


def test_a_second_configure_run_changes_nothing(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    run_configure_database(lab.vault, lab.postgres, lab.config_dir)
    assert capsys.readouterr().out == ""
    assert lab.vault.call("GET", "database/config/platform-postgres")["data"]["connection_details"]["username"] == "vault"


def test_a_vault_that_holds_the_master_user_moves_to_its_own_login(lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    # As configure.py left Vault before it had its own login (the master's password rotated
    # by Vault: on RDS the operator first resets it with `aws secretsmanager rotate-secret`).
    lab.vault.call("POST", "database/config/platform-postgres",
                   {"username": lab.postgres.master_user, "password": lab.postgres.master_password})
    hand_over_master_credential(lab.vault, lab.postgres)
    run_configure_database(lab.vault, lab.postgres, lab.config_dir)
    assert f"logs in as {MASTER_USER!r}" in capsys.readouterr().out
    assert lab.vault.call("GET", "database/config/platform-postgres")["data"]["connection_details"]["username"] == "vault"
    lab.postgres.connect_as_master().close()
    assert lab.credential()["data"]["username"].startswith("v-")


def test_a_wrong_master_credential_fails_in_one_line_and_leaves_no_master_in_vault(
        lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    lab.vault.call("POST", "kv/data/platform/database-admin",
                   {"data": {"username": lab.postgres.master_user, "password": "not-the-master-password"}})
    for key, value in (("DATABASE_HOST", lab.postgres.host), ("DATABASE_PORT", str(lab.postgres.port)),
                       ("DATABASE_NAME", lab.postgres.database)):
        monkeypatch.setenv(key, value)
    configure = configure_script()
    client = configure.Vault(addr=lab.vault.addr, cacert=str(lab.vault.ca_cert), token=configure_token(lab.vault))
    try:
        with pytest.raises(SystemExit, match=r"^database bootstrap failed \(POST .*/database/config/"
                                             r"platform-postgres-bootstrap -> HTTP \d+\): check that "
                                             r"kv/platform/database-admin holds the RDS master secret"):
            configure.bootstrap_database_login(client, load_database_spec())
        with pytest.raises(VaultLabError, match="HTTP 404"):
            lab.vault.call("GET", "database/config/platform-postgres-bootstrap")
        # Vault's own connection is untouched.
        assert lab.credential()["data"]["username"].startswith("v-")
    finally:
        lab.vault.call("DELETE", "kv/metadata/platform/database-admin")


def test_gits_database_roles_run_on_postgresql(lab: Lab) -> None:
    assert check_roles(lab.vault, DATABASE_JSON, sorted(load_database_spec()["roles"])) == []


def test_a_role_with_invalid_sql_is_named_in_one_line(lab: Lab, tmp_path: Path) -> None:
    spec = json.loads(DATABASE_JSON.read_text())
    spec["roles"]["demo-app"]["creation_statements"][0] = "CREAT ROLE \"{{name}}\";"
    broken = tmp_path / "database.json"
    broken.write_text(json.dumps(spec))
    run_configure_database(lab.vault, lab.postgres, tmp_path)
    try:
        [problem] = check_roles(lab.vault, broken, ["demo-app"])
    finally:
        run_configure_database(lab.vault, lab.postgres, lab.config_dir)
    assert problem.startswith("database.json: role demo-app: its SQL fails on PostgreSQL: ")
    assert 'syntax error at or near "CREAT"' in problem
    assert "\n" not in problem


def test_gits_ttls_are_what_the_readme_says() -> None:
    role = load_database_spec()["roles"]["demo-app"]
    assert (role["default_ttl"], role["max_ttl"]) == ("2m", "6m")
    readme = " ".join((DATABASE_JSON.parents[4] / "README.md").read_text().split())
    assert ("The role `demo-app` issues leases of 2m (`default_ttl`), renewed up to 6m (`max_ttl`)"
            in readme)
