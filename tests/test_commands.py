"""The operator's commands select the environment one way, never silently another, and take
exactly the stacks named (main.py under the cdktf CLI, ops/deploy.py, ops/teardown.py, the
make targets). Quick tier: nothing here synthesizes or runs cdktf."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

import main
from vault_platform.app import stack_order
from vault_platform.config import environment_names, load_environment
from vault_platform.ops import deploy, teardown

ROOT = Path(__file__).resolve().parents[1]


def test_under_the_cdktf_cli_an_unnamed_environment_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Before: `npx cdktf deploy tooling -c environment=staging` synthesized and deployed 'default'."""
    monkeypatch.setenv("CDKTF_OUTDIR", str(tmp_path / "out"))
    monkeypatch.delenv(main.ENVIRONMENT_VARIABLE, raising=False)
    assert main.main([]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: VAULT_PLATFORM_ENV = '<unset>':") and "-c environment=... is ignored" in line
    assert not (tmp_path / "out").exists(), "nothing is synthesized"


@pytest.mark.parametrize("environment", environment_names())
def test_every_command_the_synth_suggests_runs(environment: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: "Next: ... `npx cdktf deploy <stack>`", no environment, no stack id."""
    env = load_environment(environment)
    lines = main.next_steps([environment], [env])
    deployed: list[str] = []
    for line in lines[1:]:
        words = shlex.split(line.split("#")[0])
        assert words[0] == "make" and f"ENV={environment}" in words, line
        if words[1] == "deploy":
            stacks = next(w for w in words if w.startswith("STACKS=")).removeprefix("STACKS=").split()
            assert deploy.main(["--env", environment, "--dry-run", *stacks]) == 0
            assert capsys.readouterr().out.startswith(f"VAULT_PLATFORM_ENV={environment} npx cdktf deploy {' '.join(stacks)} ")
            deployed += stacks
    assert deployed == list(stack_order(env, environment)), "every stack once, in deploy order"


def test_deploy_orders_the_stacks_and_lets_cdktf_take_a_partial_list(capsys: pytest.CaptureFixture[str]) -> None:
    """Before: `npx cdktf deploy tooling-platform application-platform` was refused by cdktf
    ("dependencies are not included"); the flag is cdktf 0.21's own (`cdktf deploy --help`)."""
    assert deploy.main(["--env", "multi", "--dry-run", "multi-vpn", "multi-tooling"]) == 0
    command = capsys.readouterr().out.split()
    assert command[3:6] == ["deploy", "multi-tooling", "multi-vpn"]
    assert {"--skip-synth", "--ignore-missing-stack-dependencies"} <= set(command)


@pytest.mark.parametrize(("argv", "message"), [
    (["--dry-run", "tooling"], "the following arguments are required: --env"),
    (["--env", "staging", "--dry-run", "tooling"], "stacks = 'tooling': is not a stack of environment 'staging'; "
                                                   "fix: use ids of its stacks, in deploy order: staging-tooling "),
])
def test_deploy_refuses_in_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        code = deploy.main(argv)
    except SystemExit as exit_:  # a bad command line ends in the parser, with the same one line
        code = exit_.code
    assert code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert message in line


@pytest.mark.parametrize("confirm", [None, "default", "prod"])
def test_teardown_needs_the_environments_name_typed(confirm: str | None, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--env", "default", "--outdir", str(tmp_path / "out")] + (["--confirm", confirm] if confirm else [])
    assert teardown.main(argv) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "fix: type --confirm demo (make destroy ENV=default CONFIRM=demo)" in line
    assert not (tmp_path / "out").exists(), "nothing is synthesized before the confirmation"


@pytest.mark.parametrize("target", ["deploy", "destroy"])
def test_make_targets_that_change_an_account_need_env_named(target: str) -> None:
    result = subprocess.run(["make", "-n", target, "STACKS=tooling"], cwd=ROOT, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin"})
    assert result.returncode != 0 and f"ENV is not set; name the environment: make {target} ENV=<name>" in result.stderr


@pytest.mark.slow
def test_teardown_checks_every_provider_before_destroying_anything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Here the vpn and platform stacks' providers (tls, kubernetes, helm) are in no mirror: the
    teardown stops before its first destroy instead of leaving half an environment."""
    from vault_platform.ops import emulator_deploy
    from vault_platform.ops.terraform_cli import terraform_binary

    try:
        terraform_binary()
    except Exception as error:  # noqa: BLE001 - no terraform: the command would stop earlier, with that fix
        pytest.skip(str(error))

    def never(*args: object, **kwargs: object) -> None:  # a tripwire: this test must reach no account
        raise AssertionError("the teardown got to its destroys")

    monkeypatch.setattr(emulator_deploy, "teardown_stacks", never)
    try:
        code = teardown.main(["--env", "default", "--confirm", "demo", "--outdir", str(tmp_path / "out")])
    except AssertionError:
        pytest.skip("every provider is in the local mirror on this machine: nothing to prove about a missing one")
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "providers missing from the local mirror, nothing destroyed" in line


@pytest.mark.slow
def test_the_real_cdktf_cli_with_c_environment_is_refused_in_one_line(tmp_path: Path) -> None:
    """Before: `VAULT_PLATFORM_ENV=default npx cdktf synth -c environment=staging` synthesized
    'default' and said nothing about the -c (cdktf 0.21 has no such option and ignores it)."""
    from vault_platform.ops.emulator_deploy import cdktf_binary

    outdir = tmp_path / "out"
    result = subprocess.run([cdktf_binary(), "synth", "-c", "environment=staging", "--output", str(outdir)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300,
                            env={**__import__("os").environ, main.ENVIRONMENT_VARIABLE: "default", "CHECKPOINT_DISABLE": "1"})
    assert result.returncode != 0
    assert ("error: -c = 'environment=staging': is not an option of the cdktf CLI that reaches main.py"
            in result.stdout + result.stderr)
    assert not (outdir / "stacks").exists(), "nothing is synthesized"
