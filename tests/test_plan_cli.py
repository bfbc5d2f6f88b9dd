"""`python -m vault_platform.ops.plan`: a real plan of the tooling stack on the emulator, and
each kind of bad input as one line and a non-zero exit with nothing left running."""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
from pathlib import Path

import pytest

import vault_platform.config
from tests.processes import PROC, children
from tests.synth import StackJson
from vault_platform.ops import plan as plan_cli

pytestmark = pytest.mark.terraform
STARTED = __import__("time").time()


@pytest.fixture(scope="session")
def synth_dir(default_stacks: dict[str, StackJson]) -> Path:
    return next(iter(default_stacks.values())).path.parents[2]


def _emulator_processes() -> set[int]:
    """Emulator servers started by this test process (their parent is us until we exit)."""
    found = set()
    for pid in children(os.getpid()):
        try:
            if b"vault_platform.ops.emulator\x00" in (PROC / str(pid) / "cmdline").read_bytes():
                found.add(pid)
        except OSError:
            pass  # ended since
    return found


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    return err[0]


# Module scope: the module's tests that read it are then one xdist group (conftest), so the
# plan is made once; as a session fixture it was made on each worker that ran one of them.
@pytest.fixture(scope="module")
def tooling_plan(synth_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, set[int]]:
    """The plan's exit code, its summary, and the emulator processes it left behind (other
    fixtures of this worker, the Vault suite's KMS emulator, may run their own meanwhile)."""
    summary = tmp_path_factory.mktemp("plan") / "plan-summary.md"
    before = _emulator_processes()
    # vpn too: its providers (tls, awscc) are in no local mirror here, so it is not planned.
    code = plan_cli.main(["--synth-dir", str(synth_dir), "--stacks", "tooling,vpn", "--summary", str(summary)])
    return code, summary.read_text(), _emulator_processes() - before


@pytest.mark.integration
def test_tooling_plans_on_the_emulator_and_the_summary_counts_by_type(tooling_plan: tuple[int, str, set[int]],
                                                                       tooling: StackJson) -> None:
    code, markdown, _ = tooling_plan
    unplanned = "| `vpn` | skipped |" in markdown
    # Before: a stack left unplanned was a quiet "skipped" row and exit 0.
    assert code == (1 if unplanned else 0)
    assert not unplanned or markdown.index("1 stack(s) NOT planned") < markdown.index("| stack |")
    total = sum(len(block) for block in tooling.data["resource"].values())
    assert f"| `tooling` | planned | {total} | 0 | 0 | 0 |" in markdown
    assert f"| `aws_kms_key` | {len(tooling.resources('aws_kms_key'))} | 0 | 0 | 0 |" in markdown
    assert "Warning" not in markdown  # a first deploy replaces nothing
    assert "## External identities this environment trusts" in markdown and "no CI pipeline" in markdown


@pytest.mark.integration
def test_no_repository_state_and_no_emulator_left(tooling_plan: tuple[int, str, set[int]]) -> None:
    root = Path(__file__).resolve().parents[1]
    assert not [p for p in root.glob("terraform.tooling.tfstate*") if p.stat().st_mtime > STARTED]
    assert not tooling_plan[2]


def test_no_terraform_on_path(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], synth_dir: Path) -> None:
    monkeypatch.setenv("PATH", str(Path(shutil.which("python") or "/usr/bin/python").parent))
    assert plan_cli.main(["--synth-dir", str(synth_dir)]) == 2
    assert "terraform is not installed (looked in PATH); fix: install Terraform" in _one_error_line(capsys)


def test_provider_mirror_missing(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                 synth_dir: Path, tmp_path: Path) -> None:
    monkeypatch.setenv("TF_PROVIDER_MIRROR", str(tmp_path / "no-mirror"))
    before = _emulator_processes()
    assert plan_cli.main(["--synth-dir", str(synth_dir), "--stacks", "tooling", "--summary", str(tmp_path / "s.md")]) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("error: no stack could be planned") and "hashicorp/aws" in line
    assert not _emulator_processes() - before
    assert "Emulator (moto) on" not in captured.out, "refused before an emulator started"


def test_emulator_port_taken(capsys: pytest.CaptureFixture[str], synth_dir: Path, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = plan_cli.main(["--synth-dir", str(synth_dir), "--emulator-port", str(port), "--summary", str(tmp_path / "s.md")])
    assert code == 2
    assert f"port 127.0.0.1:{port} is already in use" in _one_error_line(capsys)
    assert not (tmp_path / "s.md").exists()


def test_stack_missing_from_synthesized_output(capsys: pytest.CaptureFixture[str], synth_dir: Path, tmp_path: Path) -> None:
    partial = tmp_path / "partial"
    shutil.copytree(synth_dir / "stacks" / "tooling", partial / "stacks" / "tooling")
    assert plan_cli.main(["--synth-dir", str(partial)]) == 2
    assert "stack 'application' is missing from the synthesized output" in _one_error_line(capsys)


def test_real_account_without_credentials(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                          synth_dir: Path, tmp_path: Path) -> None:
    real = dataclasses.replace(vault_platform.config.load_environment("default"), account_id="111122223333")
    monkeypatch.setattr(vault_platform.config, "load_environment", lambda name: real)
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert plan_cli.main(["--synth-dir", str(synth_dir)]) == 2
    assert "no AWS credentials were found" in _one_error_line(capsys)


def test_credentials_are_found_from_ci_web_identity(tmp_path: Path) -> None:
    assert plan_cli.aws_credentials_present({"AWS_ROLE_ARN": "arn", "AWS_WEB_IDENTITY_TOKEN_FILE": "/t"}, tmp_path)
    assert not plan_cli.aws_credentials_present({}, tmp_path)
