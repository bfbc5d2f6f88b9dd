"""The Python the bootstrap Jobs and the demo run compiles, and stays standard-library only
(the pods run a plain python image: nothing is pip-installed there)."""

import ast

import pytest

import flux_checks

SCRIPTS = sorted(flux_checks.FLUX_DIR.rglob("scripts/*.py"))
STDLIB_ONLY = {"base64", "glob", "json", "os", "ssl", "time", "urllib", "http", "threading", "vaultapi"}


@pytest.mark.parametrize("script", SCRIPTS, ids=[flux_checks.rel(s) for s in SCRIPTS])
def test_script_compiles_and_imports_only_the_standard_library(script):
    tree = ast.parse(script.read_text(), filename=str(script))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= STDLIB_ONLY, f"{flux_checks.rel(script)} imports {sorted(imported - STDLIB_ONLY)}"
