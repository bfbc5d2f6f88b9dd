"""The Python the bootstrap Jobs and the images run compiles, and imports only the standard
library, its sibling scripts, and what its directory's requirements.txt installs (the Jobs run
a plain python image; an image under images/ bakes in its requirements.txt, nothing else)."""

import ast
import sys

import pytest

import flux_checks
from vault_platform.images import IMAGES_DIR

SCRIPTS = sorted([*flux_checks.FLUX_DIR.rglob("scripts/*.py"), *IMAGES_DIR.glob("*/*.py")])


def installable(script):
    """Import names of what the directory's requirements.txt pins (pg8000==1.31.6 ... -> pg8000)."""
    requirements = script.parent / "requirements.txt"
    if not requirements.exists():
        return set()
    return {line.split("==")[0].strip().lower().replace("-", "_")
            for line in requirements.read_text().splitlines() if line.strip() and not line.startswith("#")}


@pytest.mark.parametrize("script", SCRIPTS, ids=[flux_checks.rel(s) for s in SCRIPTS])
def test_script_compiles_and_imports_only_what_its_pod_has(script):
    tree = ast.parse(script.read_text(), filename=str(script))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    available = set(sys.stdlib_module_names) | {p.stem for p in script.parent.glob("*.py")} | installable(script)
    assert imported <= available, f"{flux_checks.rel(script)} imports {sorted(imported - available)}, " \
        f"which its pod does not have: add it to {flux_checks.rel(script.parent)}/requirements.txt (pinned, hashed)"
