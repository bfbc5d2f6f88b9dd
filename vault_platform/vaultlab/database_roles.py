"""Every database role in a database.json, run once against a real PostgreSQL through Vault.

Vault stores a role's SQL without reading it; a typo shows only when an application asks for
a credential, in production. ``check_roles`` asks for one credential per role and revokes it,
and turns a failure into one line naming the file, the role and PostgreSQL's complaint. The
test suite runs it on Git's file, so a broken role fails CI before it is deployed.
"""

from __future__ import annotations

import re
from pathlib import Path

from vault_platform.vaultlab.database_engine import REPO_ROOT
from vault_platform.vaultlab.single_node import VaultLabError, VaultServer

# Vault wraps the driver's error: "... failed to execute query: ERROR: syntax error at or
# near "CREAT" (SQLSTATE 42601)"
DRIVER_ERROR = re.compile(r"ERROR: (.+? \(SQLSTATE \w+\))")


def _shown(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else path.name


def check_roles(vault: VaultServer, database_json: Path, roles: list[str]) -> list[str]:
    """One line per role whose statements PostgreSQL refuses; empty when all work."""
    problems = []
    for role in roles:
        try:
            credential = vault.call("GET", f"database/creds/{role}")
        except VaultLabError as err:
            found = DRIVER_ERROR.search(str(err))
            problems.append(f"{_shown(database_json)}: role {role}: its SQL fails on PostgreSQL: "
                            f"{found.group(1).strip() if found else err}")
            continue
        vault.call("PUT", "sys/leases/revoke", {"lease_id": credential["lease_id"]})
    return problems
