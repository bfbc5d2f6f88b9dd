"""Every command ends on bad input, a missing program or a failed tool the same way
(vault_platform/cli.py): one line on stderr, `error: ...` with the fix, exit 2, no traceback.
Run as a user runs them, as processes; only commands that refuse before any synth."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def _assert_one_error_line(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 2, result
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    for text in expected:
        assert text in lines[0], lines[0]


def test_bad_environment_is_one_config_error_line() -> None:
    result = _run("-m", "vault_platform.ops.iam_lint", "--env", "nosuch")
    _assert_one_error_line(result, "environment = 'nosuch': no file environments/nosuch.toml; fix: pick one of")


def test_missing_saved_outputs_is_one_config_error_line(tmp_path: Path) -> None:
    result = _run("-m", "vault_platform.vpn", "client", "alice", "--stack-state", str(tmp_path / "none.json"))
    _assert_one_error_line(result, "--stack-state = ", "does not exist; fix: ")


def test_missing_terraform_is_one_line_naming_where_it_looked(tmp_path: Path) -> None:
    result = _run("-m", "vault_platform.ops.plan", "--synth-dir", str(tmp_path), env={"PATH": str(tmp_path)})
    _assert_one_error_line(result, "error: terraform is not installed (looked in PATH); fix: install Terraform")


@pytest.mark.parametrize("module", ["vault_platform.ops.plan", "vault_platform.ops.policy_gate", "vault_platform.flows"])
def test_a_bad_command_line_is_one_line_too(module: str) -> None:
    result = _run("-m", module, "--no-such-flag")
    _assert_one_error_line(result, "error: command line: unrecognized arguments: --no-such-flag; fix: see "
                                   f"`python -m {module} --help`")


def test_aws_without_credentials_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """In the test process (it has the bindings loaded already); no request leaves it: the
    clients fail on the missing credentials before they send anything."""
    from vault_platform.ops import check_versions

    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert check_versions.main(["--region", "eu-west-1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: AWS did not answer in eu-west-1: Unable to locate credentials; fix: "), err
