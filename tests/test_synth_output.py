"""The main command as a user runs it (with cdktf.json's interpreter flags: ``-O``), and the
properties of its output: deterministic, free of machine paths, and identical whether the
provider bindings load shallowly or not and whether jsii's Python-side type checks run or not
(this test process runs them; the main command, under -O, does not)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.synth import StackJson, read_tree
from vault_platform import synth_cache
from vault_platform.ops.bench import interpreter_flags
from vault_platform.node_runtime import PROJECT_BIN, prefer_project_node
from vault_platform.provider_imports import (
    EAGER_IMPORT_ENV,
    EAGER_NODE_EXPORTS_ENV,
    ProviderLayoutChanged,
    _AssemblyLoads,
    strip_eager_imports,
)

ROOT = Path(__file__).resolve().parents[1]


def run_main(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *interpreter_flags(), "main.py", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def path_without_project_node() -> str:
    """PATH as a user's shell has it: without node_modules/.bin (make and npx add that)."""
    return os.pathsep.join(entry for entry in os.environ["PATH"].split(os.pathsep) if Path(entry) != PROJECT_BIN)


def without_terraform(path: str) -> str:
    """``path`` less every directory that holds a ``terraform``."""
    return os.pathsep.join(entry for entry in path.split(os.pathsep) if not (Path(entry) / "terraform").exists())


@pytest.fixture(scope="module")
def main_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`python main.py` as a user types it, from a shell whose PATH has only the machine's
    Node (if any): the app must find the project's Node 22 itself (vault_platform/node_runtime.py).
    And no Terraform: a synth needs none (constructs/addresses.py writes the moved blocks
    without cdktf's `terraform version` check, which before needed it on every machine)."""
    outdir = tmp_path_factory.mktemp("main") / "cdktf.out"
    path = without_terraform(path_without_project_node())
    assert shutil.which("terraform", path=path) is None
    return run_main("--outdir", str(outdir), env={"PATH": path}), outdir


def test_main_command_says_where_the_json_went(main_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    result, outdir = main_run
    assert result.returncode == 0, result.stderr
    assert "Synthesized environment 'default'" in result.stdout
    for stack in ("tooling", "application"):
        assert f"{outdir}/stacks/{stack}/cdk.tf.json" in result.stdout
        assert (outdir / "stacks" / stack / "cdk.tf.json").is_file()
    output = result.stdout + result.stderr
    assert "DeprecationWarning" not in output and "end-of-life" not in output, output[:2000]


def test_project_node_goes_first_on_path_once(tmp_path: Path) -> None:
    (tmp_path / "node").write_text("#!/bin/sh\n")
    (tmp_path / "node").chmod(0o755)
    environ = {"PATH": os.pathsep.join(["/usr/bin", str(tmp_path), "/bin"])}
    assert prefer_project_node(environ, tmp_path)
    assert environ["PATH"] == os.pathsep.join([str(tmp_path), "/usr/bin", "/bin"])
    assert not prefer_project_node(environ, tmp_path), "already first: nothing to do"
    missing = {"PATH": "/usr/bin"}
    assert not prefer_project_node(missing, tmp_path / "not-installed") and missing == {"PATH": "/usr/bin"}


def test_synth_is_deterministic(main_run: tuple[subprocess.CompletedProcess[str], Path],
                                default_stacks: dict[str, StackJson]) -> None:
    """A second synth (in-process, another directory, with jsii's type checks) writes the same bytes."""
    _, outdir = main_run
    for stack in default_stacks.values():
        assert (outdir / "stacks" / stack.stack_id / "cdk.tf.json").read_bytes() == stack.path.read_bytes(), stack.stack_id


def test_output_names_no_machine_path(main_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, outdir = main_run
    needles = {str(ROOT), str(Path.home()), str(outdir.parent), sys.prefix}
    for name, content in read_tree(outdir).items():
        text = content.decode()
        for needle in needles:
            assert needle not in text, f"{name} contains the machine path {needle}"


def assert_same_output(eager_out: Path, shallow_out: Path, what: str) -> None:
    # The synth cache's stamp is not output: its key names each run's own outdir.
    eager, shallow = ({name: data for name, data in read_tree(out).items() if name != synth_cache.STAMP}
                      for out in (eager_out, shallow_out))
    assert sorted(eager) == sorted(shallow)
    different = [name for name in eager if eager[name] != shallow[name]]
    assert not different, f"{what} changed: {different}"


@pytest.mark.slow
def test_shallow_provider_loading_is_byte_identical_to_a_normal_import(
        main_run: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path) -> None:
    """The proof behind provider_imports.py: every file of the synth, eager import (Python and
    Node) vs shallow."""
    _, shallow_out = main_run
    eager_out = tmp_path / "eager"
    # Without -O: pip wrote the plain bytecode of all ~2,135 eagerly imported modules, but not
    # their -O bytecode, so under PYTHONDONTWRITEBYTECODE an -O eager import compiles every one
    # of them (twice the CPU time, measured). -O does not change the output: main_run is -O and
    # test_synth_is_deterministic compares it with the checked in-process synth.
    result = subprocess.run([sys.executable, "main.py", "--outdir", str(eager_out)], cwd=ROOT, capture_output=True,
                            text=True, env={**os.environ, EAGER_IMPORT_ENV: "1"}, timeout=300)
    assert result.returncode == 0, result.stderr
    assert_same_output(eager_out, shallow_out, "shallow loading")


@pytest.mark.slow  # a synth that loads every provider module (4-5 s); test_node_lazy_exports.py's quick tests guard the preload
def test_lazy_node_exports_are_byte_identical_to_jsii_loading_every_module(
        main_run: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path) -> None:
    """The proof behind node_lazy_exports.cjs alone: the same -O synth with only its Node half
    off (the Python bindings shallow in both)."""
    _, lazy_out = main_run
    eager_out = tmp_path / "eager-node"
    result = run_main("--no-cache", "--outdir", str(eager_out), env={EAGER_NODE_EXPORTS_ENV: "1"})
    assert result.returncode == 0, result.stderr
    assert_same_output(eager_out, lazy_out, "loading the provider modules in Node at first use")


def test_shallow_loader_skips_only_the_eager_submodule_imports() -> None:
    source = "import jsii\nfrom ._jsii import *\n__all__ = []\npublication.publish()\nfrom . import vpc\nfrom . import eks_cluster\n"
    stripped, count = strip_eager_imports(source, "pkg")
    assert count == 2
    assert stripped == "import jsii\nfrom ._jsii import *\n__all__ = []\npublication.publish()\n"


@pytest.mark.slow  # a fresh interpreter that loads the stacks' bindings
def test_the_test_helpers_load_only_the_provider_modules_they_name() -> None:
    """Importing the suite's synth helpers (which import AwsProvider) loads a handful of the
    AWS binding's modules, not its hundreds: the package tests/ imports vault_platform (and so
    the shallow loader) before anything else. Counted in a fresh interpreter, not timed; the
    helpers once imported the binding first and every pytest process paid ~40 s for it."""
    probe = ("import sys, tests.synth; "
             "print(sum(1 for m in sys.modules if m.startswith('cdktf_cdktf_provider_aws.')))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    # ~100: the resource types the stacks use (each with its _private), not the binding's ~4,300.
    assert int(loaded.stdout.strip()) < 500, loaded.stdout


# A fresh interpreter as main.py runs: the kernel started early, three assemblies imported,
# then constructs built; every request Node gets recorded with the thread that sent it.
ASSEMBLY_ORDER_PROBE = """
import json, sys, threading
import vault_platform
from vault_platform import provider_imports
from jsii._kernel.providers import process

sent, starts = [], []
send, start = process._NodeProcess.send, process._NodeProcess.start
process._NodeProcess.send = lambda self, request, kind: (
    sent.append([type(request).__name__, getattr(request, "name", ""), threading.current_thread().name]),
    send(self, request, kind))[1]
process._NodeProcess.start = lambda self: (starts.append(threading.current_thread().name), start(self))[1]
provider_imports.start_kernel()
from cdktf import App, TerraformStack
from cdktf_cdktf_provider_aws.provider import AwsProvider
AwsProvider(TerraformStack(App(outdir=sys.argv[1]), "stack"), "aws", region="eu-west-1")
print(json.dumps({"sent": sent, "starts": starts}))
"""


@pytest.mark.slow  # a fresh interpreter and its Node
def test_type_assemblies_reach_node_first_in_dependency_order_from_one_thread(tmp_path: Path) -> None:
    """provider_imports sends the loads from a thread of its own while the importing thread
    goes on: Node must still get constructs, then cdktf, then the provider, before any other
    request, and only one Node process may start (jsii starts one at its first use)."""
    result = subprocess.run([sys.executable, "-c", ASSEMBLY_ORDER_PROBE, str(tmp_path / "out")], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    recorded = json.loads(result.stdout.strip().splitlines()[-1])
    loads = [(name, thread) for kind, name, thread in recorded["sent"] if kind == "LoadRequest"]
    assert [name for name, _ in loads] == ["constructs", "cdktf", "@cdktf/provider-aws"]
    assert {thread for _, thread in loads} == {recorded["starts"][0]} != {"MainThread"}
    assert len(recorded["starts"]) == 1
    first_other = next(index for index, (kind, _, _) in enumerate(recorded["sent"]) if kind != "LoadRequest")
    assert first_other == len(loads), recorded["sent"]
    assert recorded["sent"][first_other][2] == "MainThread"


def test_a_load_that_failed_is_raised_where_the_importer_next_calls_the_kernel() -> None:
    loads = _AssemblyLoads()
    done: list[str] = []

    def fails() -> None:
        raise RuntimeError("Cannot find module 'constructs'")

    loads.call(done.append, "first")
    loads.call(fails)
    loads.call(done.append, "after")
    with pytest.raises(RuntimeError, match="Cannot find module"):
        loads.wait()
    loads.wait()  # what followed the failure still ran, in order
    assert done == ["first", "after"]


def test_shallow_loader_refuses_an_unknown_layout() -> None:
    with pytest.raises(ProviderLayoutChanged, match="no 'from . import <module>' lines"):
        strip_eager_imports("from ._jsii import *\n", "pkg")


def test_bad_environment_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run_main("--env", "nonexistent", "--outdir", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: environment = 'nonexistent'")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists(), "a rejected input must write nothing"


def test_main_command_runs_as_cdktf_json_and_the_makefile_say() -> None:
    """The CLI (cdktf.json), `make synth` and the benchmark run the same synth: -O here."""
    assert interpreter_flags() == ["-O"]
    makefile = (ROOT / "Makefile").read_text()
    assert "SYNTH_PYTHON := $(PYTHON) -O\n" in makefile
    assert "\t$(SYNTH_PYTHON) main.py --env $(ENV)\n" in makefile


@pytest.mark.slow  # two interpreters loading the bindings; it guards jsii's behaviour, not the constructs
def test_optimized_synth_skips_only_the_python_side_type_checks() -> None:
    """Under -O a wrongly typed argument is still refused, by the jsii kernel, where the
    Python-side check (typeguard) would have refused it without -O: the flag drops a duplicate
    check, not the check."""
    probe = ("import vault_platform\n"
             "from cdktf import App, TerraformStack\n"
             "from cdktf_cdktf_provider_aws.provider import AwsProvider\n"
             "AwsProvider(TerraformStack(App(), 'stack'), 'aws', region=42)\n")
    checked = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert checked.returncode != 0
    assert "TypeError: type of argument region must be one of (str, NoneType); got int instead" in checked.stderr
    optimized = subprocess.run([sys.executable, *interpreter_flags(), "-c", probe], cwd=ROOT,
                               capture_output=True, text=True, timeout=300)
    assert optimized.returncode != 0
    assert "typeguard" not in optimized.stderr
    assert "Key 'region': Unable to deserialize value as string" in optimized.stderr
