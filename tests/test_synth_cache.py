"""The synth cache (vault_platform/synth_cache.py): an unchanged synth reuses its output,
any changed input synthesizes again, and the key covers every input a real synth reads."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.synth import read_tree
from vault_platform import synth_cache
from vault_platform.ops.bench import interpreter_flags

ROOT = Path(__file__).resolve().parents[1]
REUSED = "reused it; --no-cache synthesizes anyway"
REQUEST = {"environments": ["default"], "outdir": "cdktf.out", "allow_destroy": False, "bootstrap": False}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    import main

    assert main.main(list(argv)) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def output_of(tree: dict[str, bytes]) -> dict[str, bytes]:
    return {name: data for name, data in tree.items() if name != synth_cache.STAMP}


@pytest.fixture(scope="module")
def cached(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, bytes]]:
    """One synth of the default environment through main.py, cache on: its outdir, what it
    printed and what it wrote."""
    import main

    outdir = tmp_path_factory.mktemp("cached") / "cdktf.out"
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(synth_cache.NO_CACHE_VARIABLE, raising=False)
        patch.delenv("CDKTF_OUTDIR", raising=False)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            assert main.main(["--outdir", str(outdir)]) == 0
    return outdir, printed.getvalue(), read_tree(outdir)


class Bypassed(Exception):
    pass


def test_an_unchanged_synth_reuses_the_output_byte_for_byte(cached: tuple[Path, str, dict[str, bytes]], tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    outdir, first, written = cached
    monkeypatch.delenv(synth_cache.NO_CACHE_VARIABLE, raising=False)
    assert REUSED not in first and synth_cache.STAMP in written
    second = run(capsys, "--outdir", str(outdir))
    assert REUSED in second and second.startswith(first), "the reused output is reported as a synth reports it"
    assert read_tree(outdir) == written
    forced = tmp_path / "forced"
    assert REUSED not in run(capsys, "--outdir", str(forced), "--no-cache")
    assert output_of(read_tree(forced)) == output_of(written), "with and without the cache: the same bytes"
    assert synth_cache.STAMP not in read_tree(forced), "--no-cache writes no stamp"


def test_no_cache_flag_and_variable_always_synthesize(cached: tuple[Path, str, dict[str, bytes]],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import main
    import vault_platform.app as app

    def bypassed(*args: object, **kwargs: object) -> None:
        raise Bypassed

    outdir, _, _ = cached
    monkeypatch.setattr(app, "synthesize_environments", bypassed)
    with pytest.raises(Bypassed):
        main.main(["--outdir", str(outdir), "--no-cache"])
    monkeypatch.setenv(synth_cache.NO_CACHE_VARIABLE, "1")
    with pytest.raises(Bypassed):
        main.main(["--outdir", str(outdir)])


def test_a_changed_output_or_another_request_is_never_reused(cached: tuple[Path, str, dict[str, bytes]]) -> None:
    outdir, _, _ = cached
    request = {**REQUEST, "outdir": str(outdir)}
    default_key = synth_cache.key(request)
    assert synth_cache.cached_summary(outdir, default_key) is not None
    # Terraform's own files in a stack directory are not output: they do not spoil the cache.
    lock = outdir / "stacks" / "tooling" / ".terraform.lock.hcl"
    lock.write_text("# lock")
    assert synth_cache.cached_summary(outdir, default_key) is not None
    lock.unlink()
    tooling = outdir / "stacks" / "tooling" / "cdk.tf.json"
    original = tooling.read_bytes()
    try:
        tooling.write_bytes(original.replace(b'"prevent_destroy": true', b'"prevent_destroy": false', 1))
        assert synth_cache.cached_summary(outdir, default_key) is None, "an edited output is never trusted"
        tooling.unlink()
        assert synth_cache.cached_summary(outdir, default_key) is None, "nor a missing one"
    finally:
        tooling.write_bytes(original)
    assert synth_cache.cached_summary(outdir, default_key) is not None
    # Another environment, flag or outdir is another key: the default's output is not staging's.
    for other in ({"environments": ["staging"]}, {"allow_destroy": True}, {"bootstrap": True}, {"outdir": "elsewhere"}):
        assert synth_cache.cached_summary(outdir, synth_cache.key({**request, **other})) is None, other


def test_the_key_changes_with_every_kind_of_input(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    for name in synth_cache.INPUT_FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, root / name)
    for directory in synth_cache.INPUT_DIRECTORIES:
        shutil.copytree(ROOT / directory, root / directory, ignore=shutil.ignore_patterns("__pycache__"))
    base = synth_cache.key(REQUEST, root=root, environ={})
    assert synth_cache.key(REQUEST, root=root, environ={}) == base
    (root / "vault_platform" / "__pycache__").mkdir(exist_ok=True)
    (root / "vault_platform" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    assert synth_cache.key(REQUEST, root=root, environ={}) == base, "bytecode is not an input"
    changed = {
        "a request field": synth_cache.key({**REQUEST, "allow_destroy": True}, root=root, environ={}),
        "an output variable": synth_cache.key(REQUEST, root=root, environ={"SYNTH_HCL_OUTPUT": "true"}),
    }
    for relative in ("environments/default.toml", "flux/infrastructure/vault/helmrelease.yaml",
                     "vault_platform/stacks/tooling.py", "package-lock.json", "Pipfile.lock", "main.py"):
        path = root / relative
        before = path.read_bytes()
        path.write_bytes(before + b"\n")
        changed[relative] = synth_cache.key(REQUEST, root=root, environ={})
        path.write_bytes(before)
    (root / "flux" / "new-file.yaml").write_text("kind: ConfigMap\n")
    changed["a new flux/ file"] = synth_cache.key(REQUEST, root=root, environ={})
    assert all(value != base for value in changed.values()), [name for name, value in changed.items() if value == base]
    assert len(set(changed.values())) == len(changed)


# ---- completeness: what a real synth reads is what the key covers -------------------------

def uncovered_files(opened: list[str], outdir: Path, root: Path = ROOT) -> list[str]:
    """Files and directories below the repository that a synth read and the key does not
    cover. The installs (.venv, node_modules) are fixed by the lock files in the key; the
    output directory is what the synth writes."""
    covered = {str(path) for path in synth_cache.input_files(root)}
    directories = {str(root / d) for d in synth_cache.INPUT_DIRECTORIES}
    installs = [str(root / ".venv"), str(root / "node_modules"), str(outdir.parent)]
    missing = []
    for name in opened:
        path = Path(name)
        if not name.startswith(str(root) + "/") or any(name == i or name.startswith(i + "/") for i in installs):
            continue
        if "__pycache__" in path.parts or name in covered:
            continue
        if path.is_dir() and any(name == d or name.startswith(d + "/") for d in directories):
            continue  # a listing of an input directory: its files are in the key
        missing.append(str(path.relative_to(root)))
    return sorted(missing)


def unclassified_variables(read: list[str]) -> list[str]:
    known = {*synth_cache.REQUEST_VARIABLES, *synth_cache.OUTPUT_VARIABLES, *synth_cache.NOT_OUTPUT_VARIABLES}
    return sorted(set(read) - known)


@pytest.fixture(scope="module")
def synth_reads(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, object], Path]:
    """Every environment's synth with its bootstrap stacks (the most code paths one process
    takes), recorded from the inside by tests/synth_inputs_probe.py."""
    work = tmp_path_factory.mktemp("probe")
    record, outdir = work / "record.json", work / "out" / "cdktf.out"
    command = [sys.executable, *interpreter_flags(), str(ROOT / "tests" / "synth_inputs_probe.py"), str(record), "--",
               "--all-envs", "--bootstrap", "--outdir", str(outdir)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    recorded = json.loads(record.read_text())
    assert recorded["code"] == 0 and (outdir / synth_cache.STAMP).is_file(), "the probe ran a synth that missed the cache"
    return recorded, outdir


@pytest.mark.slow
def test_every_file_a_synth_reads_is_in_the_key(synth_reads: tuple[dict[str, object], Path]) -> None:
    recorded, outdir = synth_reads
    opened = list(recorded["files"])
    assert any(name.endswith("environments/staging.toml") for name in opened), "the probe recorded nothing"
    assert uncovered_files(opened, outdir) == []


@pytest.mark.slow
def test_the_completeness_check_fails_when_an_input_leaves_the_key(synth_reads: tuple[dict[str, object], Path],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    recorded, outdir = synth_reads
    monkeypatch.setattr(synth_cache, "INPUT_DIRECTORIES", tuple(d for d in synth_cache.INPUT_DIRECTORIES if d != "flux"))
    missing = uncovered_files(list(recorded["files"]), outdir)
    assert "flux/infrastructure/vault/helmrelease.yaml" in missing
    monkeypatch.setattr(synth_cache, "INPUT_FILES", tuple(f for f in synth_cache.INPUT_FILES if f != "main.py"))
    assert "main.py" in uncovered_files(list(recorded["files"]), outdir)


@pytest.mark.slow
def test_every_variable_the_project_reads_is_in_the_key_or_has_a_reason(
        synth_reads: tuple[dict[str, object], Path], monkeypatch: pytest.MonkeyPatch) -> None:
    recorded, _ = synth_reads
    read = list(recorded["variables"])
    assert "CDKTF_OUTDIR" in read, "the probe recorded no variable"
    assert unclassified_variables(read) == []
    monkeypatch.delitem(synth_cache.REQUEST_VARIABLES, "VAULT_PLATFORM_BOOTSTRAP")
    assert unclassified_variables(read) == ["VAULT_PLATFORM_BOOTSTRAP"]
