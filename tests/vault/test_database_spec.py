"""config/database.json is checked before configure.py writes anything: one line naming the
file, the field and the fix (quick tier: no server)."""

from __future__ import annotations

import copy

import pytest

from vault_platform.vaultlab.database_engine import configure_script, load_database_spec


def check(spec: dict) -> None:
    configure_script().check_database_spec(spec)


def test_gits_database_json_passes() -> None:
    check(load_database_spec())


@pytest.mark.parametrize(("edit", "message"), [
    (lambda s: s.pop("vault_user"), r"^config/database.json: vault_user is missing or empty"),
    (lambda s: s["access_roles"].update({"Demo-App": ""}),
     r"^config/database.json: access role 'Demo-App' is not a plain lower-case SQL name"),
    (lambda s: s["roles"]["demo-app"].update(revocation_statements=[]),
     r'^config/database.json: role demo-app: revocation_statements is empty: write it out \(revocation: '
     r'DROP ROLE IF EXISTS "\{\{name\}\}";\)$'),
])
def test_a_bad_database_json_is_named_in_one_line(edit, message: str) -> None:
    spec = copy.deepcopy(load_database_spec())
    edit(spec)
    with pytest.raises(SystemExit, match=message):
        check(spec)
