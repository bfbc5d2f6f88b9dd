"""A synth that fails leaves the previous output exactly as it was, never half-written: the
App writes into a sibling directory that replaces the output only once the synth is done
(vault_platform/outdir.py). Terraform's working files in a stack directory survive a synth."""

from __future__ import annotations

import threading
from pathlib import Path

import jsii
import pytest
from cdktf import Aspects, IAspect

from tests.synth import read_tree
import vault_platform.app as app_module
from vault_platform.app import build_app, synthesize
from vault_platform.config import load_environment
from vault_platform.errors import ConfigError
from vault_platform.outdir import atomic_outdir, lock_path


def leftovers(outdir: Path) -> list[str]:
    """Staging or retired trees beside the output (the swap lock file is meant to stay)."""
    return sorted(p.name for p in outdir.parent.iterdir()
                  if p.name.startswith(f".{outdir.name}.") and p != lock_path(outdir))


@pytest.fixture
def previous(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A good synth of the default environment: the output a failing synth must not touch.
    Made with --allow-destroy, so that every stack a normal synth rewrites would differ."""
    outdir = tmp_path / "cdktf.out"
    synthesize(load_environment(), "default", str(outdir), allow_destroy=True)
    return outdir, read_tree(outdir)


@jsii.implements(IAspect)
class FailWhileWriting:
    """Raises while cdktf writes the stack it is attached to: the stacks before it are on disk."""

    def visit(self, node: object) -> None:
        raise RuntimeError("synth failed half-way")


def vpn_stack_failing_during_synth(monkeypatch: pytest.MonkeyPatch) -> None:
    real = app_module.VpnStack

    def failing(*args: object, **kwargs: object) -> object:
        stack = real(*args, **kwargs)
        Aspects.of(stack).add(FailWhileWriting())
        return stack

    monkeypatch.setattr(app_module, "VpnStack", failing)


def test_the_failure_mode_is_real_without_the_staging_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Control: cdktf on its own leaves the stacks written before the failure and no manifest."""
    vpn_stack_failing_during_synth(monkeypatch)
    outdir = tmp_path / "direct"
    outdir.mkdir()
    with pytest.raises(RuntimeError, match="half-way"):
        build_app(load_environment(), "default", str(outdir)).synth()
    written = read_tree(outdir)
    assert "stacks/tooling/cdk.tf.json" in written and "manifest.json" not in written


def test_exception_while_writing_leaves_previous_output_untouched(
        previous: tuple[Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch) -> None:
    outdir, before = previous
    vpn_stack_failing_during_synth(monkeypatch)
    with pytest.raises(RuntimeError, match="half-way"):
        synthesize(load_environment(), "default", str(outdir))
    assert read_tree(outdir) == before
    assert leftovers(outdir) == []


def test_bad_input_found_late_leaves_previous_output_untouched(
        previous: tuple[Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A Flux manifest substituting a variable platform-vars lacks passes every config check:
    the tooling platform stack finds it, after the tooling and application stacks are built.
    The manifest lives in a copy of the repository's layout, not in the real flux/."""
    import vault_platform.gitops.contract as contract

    outdir, before = previous
    repo = tmp_path / "repo"
    (repo / "flux/clusters/tooling").mkdir(parents=True)
    (repo / "flux/clusters/tooling/kustomization.yaml").write_text("resources: [settings.yaml]\n")
    (repo / "flux/clusters/tooling/settings.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {bucket: '${BACKUP_BUCKET}'}\n")
    scan = contract.required_variables
    monkeypatch.setattr(contract, "required_variables", lambda _root, entry: scan(repo, entry))
    with pytest.raises(ConfigError, match=r"^\$\{BACKUP_BUCKET\} = 'flux/clusters/tooling/settings.yaml': is substituted"):
        synthesize(load_environment(), "default", str(outdir))
    assert read_tree(outdir) == before
    assert leftovers(outdir) == []


def test_main_reports_a_late_failure_in_one_line_and_keeps_the_output(
        previous: tuple[Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import main
    import vault_platform.stacks.platform as platform

    outdir, before = previous

    def refuse(*args: object, **kwargs: object) -> None:
        raise ConfigError("${VAULT_ADDR}", "flux/clusters/tooling", "is not a key of platform-vars", "list it in platform_vars.py")

    monkeypatch.setattr(platform, "check_flux_variables", refuse)
    assert main.main(["--outdir", str(outdir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ${VAULT_ADDR} = 'flux/clusters/tooling'") and "left as it was" in err
    assert read_tree(outdir) == before


def test_terraform_working_files_survive_a_new_synth(previous: tuple[Path, dict[str, bytes]]) -> None:
    outdir, before = previous
    stack = outdir / "stacks" / "tooling"
    (stack / ".terraform" / "providers").mkdir(parents=True)
    (stack / ".terraform" / "providers" / "marker").write_text("provider cache")
    (stack / ".terraform.lock.hcl").write_text("# lock")
    (stack / "cdk.tf.json").write_text("{}")  # stale: must be replaced by the new synth
    synthesize(load_environment(), "default", str(outdir))
    after = read_tree(outdir)
    assert after["stacks/tooling/.terraform/providers/marker"] == b"provider cache"
    assert after["stacks/tooling/.terraform.lock.hcl"] == b"# lock"
    assert set(after) - set(before) == {"stacks/tooling/.terraform/providers/marker", "stacks/tooling/.terraform.lock.hcl"}
    assert b'"prevent_destroy": false' in before["stacks/tooling/cdk.tf.json"]
    assert b'"prevent_destroy": false' not in after["stacks/tooling/cdk.tf.json"], "the new synth was not written"
    assert oct(outdir.stat().st_mode & 0o777) != oct(0o700), "the staging directory's private mode leaked"
    assert leftovers(outdir) == []


def test_cdktf_outdir_from_the_cdktf_cli_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The cdktf CLI runs `main.py` without flags and names the output in CDKTF_OUTDIR. In
    this process (its jsii runtime is already up): a main.py process of its own is
    tests/test_synth_output.py's main_run."""
    import main

    outdir = tmp_path / "nested" / "cli.out"  # a parent that does not exist yet
    monkeypatch.setenv("CDKTF_OUTDIR", str(outdir))
    monkeypatch.setenv(main.ENVIRONMENT_VARIABLE, "default")  # required under the CLI (tests/test_commands.py)
    assert main.main([]) == 0, capsys.readouterr().err
    assert f"into {outdir}/" in capsys.readouterr().out
    assert (outdir / "manifest.json").is_file() and (outdir / "stacks" / "vpn" / "cdk.tf.json").is_file()
    assert leftovers(outdir) == []


def test_concurrent_synths_into_one_outdir_leave_one_whole_output(tmp_path: Path) -> None:
    """Several synths finishing at the same moment: every one succeeds, the output is exactly
    one of theirs (whole), and no staging or retired tree is left beside it."""
    outdir = tmp_path / "cdktf.out"
    writers = 6
    ready = threading.Barrier(writers)
    errors: list[BaseException] = []

    def synth(number: int) -> None:
        try:
            with atomic_outdir(outdir) as staging:
                for stack in ("tooling", "application"):
                    (staging / "stacks" / stack).mkdir(parents=True)
                    (staging / "stacks" / stack / "cdk.tf.json").write_text(f'{{"synth": {number}}}')
                ready.wait(timeout=30)  # all swaps start together
        except BaseException as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    for _ in range(20):
        threads = [threading.Thread(target=synth, args=(number,)) for number in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ready.reset()
        assert errors == []
        contents = set(read_tree(outdir).values())
        assert len(contents) == 1 and len(read_tree(outdir)) == 2, read_tree(outdir)
        assert leftovers(outdir) == []
