"""The Node half of the shallow provider loading (vault_platform/node_lazy_exports.cjs), run in
the project's real Node: on every provider's real lib/index.js (from the tarball jsii loads), on a
package laid out the same way whose modules say when they load, and in the jsii runtime a synth
starts. That the synthesized JSON does not change is tests/test_synth_output.py's."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from vault_platform.binaries import NODE_BIN
from vault_platform.provider_imports import (
    EAGER_IMPORT_ENV,
    EAGER_NODE_EXPORTS_ENV,
    LAZY_NODE_EXPORTS,
    PROVIDER_PACKAGES,
    lazy_node_exports,
    node_require_option,
    with_lazy_node_exports,
)

NODE = str(NODE_BIN / "node")


def provider_index(package: str) -> str:
    """lib/index.js of the provider's npm package, read from the tarball its Python binding
    hands to jsii (without importing the binding, which would load it)."""
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations, package
    tarball, = (Path(spec.submodule_search_locations[0]) / "_jsii").glob("*.jsii.tgz")
    with tarfile.open(tarball, "r|gz") as tar:  # streamed: index.js comes long before the end
        for member in tar:
            if member.name == "package/lib/index.js":
                return tar.extractfile(member).read().decode()
    raise AssertionError(f"{tarball.name} has no package/lib/index.js")


def node(script: str, *, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NODE, "-e", script], capture_output=True, text=True, timeout=60, cwd=cwd,
                          env={**os.environ, **(env or {})})


def test_every_provider_index_has_each_require_made_lazy_and_nothing_else_changed(tmp_path: Path) -> None:
    sources = {package: provider_index(package) for package in PROVIDER_PACKAGES}
    (tmp_path / "sources.json").write_text(json.dumps(sources))
    script = (f"const {{ lazyExports }} = require({json.dumps(str(LAZY_NODE_EXPORTS))});"
              f"const sources = require({json.dumps(str(tmp_path / 'sources.json'))});"
              "const out = {}; for (const [p, s] of Object.entries(sources)) { const r = lazyExports(s);"
              " out[p] = { count: r.count, lines: r.source.split('\\n').length, requires: (r.source.match(/^exports\\.[\\w$]+ = require\\(/gm) || []).length }; }"
              "process.stdout.write(JSON.stringify(out));")
    result = node(script, env={"NODE_OPTIONS": ""})
    assert result.returncode == 0, result.stderr
    made = json.loads(result.stdout)
    for package, source in sources.items():
        requires = source.count("require(")
        assert made[package]["count"] == requires > 0, (
            f"{package}: {made[package]['count']} of its {requires} requires made lazy: its index.js has another layout; "
            "read it and adapt node_lazy_exports.cjs (a synth stays correct meanwhile, only slower)")
        assert made[package]["requires"] == 0, f"{package}: an eager require is left"
        assert made[package]["lines"] == source.count("\n") + 1, f"{package}: lines moved (stack traces would point elsewhere)"
    # The AWS provider's 2,135 resource modules, as the Python side counts them too.
    assert made["cdktf_cdktf_provider_aws"]["count"] > 2000


FAKE_INDEX = """\"use strict\";
Object.defineProperty(exports, "__esModule", { value: true });
exports.broken = exports.vpc = void 0;
exports.vpc = require("./vpc");
exports.broken = require("./broken");
//# sourceMappingURL=data:application/json;base64,e30=
"""


@pytest.fixture
def fake_provider(tmp_path: Path) -> Path:
    """A package laid out as the generated providers are, in a directory whose name has a
    space and a quote (NODE_OPTIONS quoting): one module that records its load, one that throws."""
    lib = tmp_path / 'work "dir"' / "node_modules" / "@cdktf" / "provider-fake" / "lib"
    (lib / "vpc").mkdir(parents=True)
    (lib / "broken").mkdir()
    (lib / "index.js").write_text(FAKE_INDEX)
    (lib / "vpc" / "index.js").write_text('globalThis.loaded.push("vpc"); exports.Vpc = class Vpc {};\n')
    (lib / "broken" / "index.js").write_text('throw new Error("broken module loaded");\n')
    (lib.parent / "package.json").write_text('{"name": "@cdktf/provider-fake", "main": "lib/index.js"}\n')
    return lib.parents[3]


def test_a_lazy_export_loads_its_module_at_first_read_and_holds_it(fake_provider: Path, tmp_path: Path) -> None:
    preload = tmp_path / 'hook dir "x"' / LAZY_NODE_EXPORTS.name
    preload.parent.mkdir()
    preload.write_text(LAZY_NODE_EXPORTS.read_text())
    script = ("globalThis.loaded = [];"
              "const p = require('@cdktf/provider-fake');"
              "const before = [...globalThis.loaded];"
              "const keys = Object.keys(p);"
              "const first = p.vpc; const again = p.vpc;"
              "const held = Object.getOwnPropertyDescriptor(p, 'vpc');"
              "let broken = null; try { p.broken; } catch (e) { broken = e.message; }"
              "process.stdout.write(JSON.stringify({ before, keys, after: globalThis.loaded, same: first === again,"
              " cls: typeof first.Vpc, held: 'value' in held && held.writable, broken }));")
    options = with_lazy_node_exports("--no-deprecation", True, preload)
    result = node(script, env={"NODE_OPTIONS": options}, cwd=fake_provider)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["before"] == [], "a module was loaded by requiring the index"
    assert seen["keys"] == ["vpc", "broken"], "the exports must still be listed, in order"
    assert seen["after"] == ["vpc"] and seen["same"] and seen["cls"] == "function"
    assert seen["held"], "after the first read the export must be a plain value, as the eager line made it"
    assert seen["broken"] == "broken module loaded", "a module that fails must fail when it is used"
    eager = node(script.replace("let broken = null; try { p.broken; } catch (e) { broken = e.message; }", "let broken = null;"),
                 env={"NODE_OPTIONS": "--no-deprecation"}, cwd=fake_provider)
    assert eager.returncode != 0 and "broken module loaded" in eager.stderr, "without the preload every module loads at once"


def test_node_options_get_the_preload_once_keep_the_users_options_and_lose_it_when_eager() -> None:
    require = node_require_option(Path('/a b/"q"/hook.cjs'))
    assert require == '--require "/a b/\\"q\\"/hook.cjs"'
    once = with_lazy_node_exports("--no-deprecation", True)
    assert once == f"--no-deprecation {node_require_option()}"
    assert with_lazy_node_exports(once, True) == once, "a child process inherits it: not twice"
    assert with_lazy_node_exports(once, False) == "--no-deprecation"
    assert with_lazy_node_exports("", True) == node_require_option()
    environ = {"NODE_OPTIONS": "--max-old-space-size=8000", EAGER_NODE_EXPORTS_ENV: "1"}
    lazy_node_exports(environ)
    assert environ["NODE_OPTIONS"] == "--max-old-space-size=8000"
    for switch in (EAGER_IMPORT_ENV, EAGER_NODE_EXPORTS_ENV):
        environ = {"NODE_OPTIONS": once, switch: "1"}
        lazy_node_exports(environ)
        assert environ["NODE_OPTIONS"] == "--no-deprecation", switch


def test_the_jsii_runtime_this_process_started_has_the_preload() -> None:
    """jsii's Node in this process (importing cdktf starts it, as every synth does): its
    environment is what counts."""
    import cdktf  # noqa: F401 - starts the kernel and loads cdktf's assembly
    from jsii import kernel

    pid = kernel.provider._process._process.pid  # noqa: SLF001 - the Node process jsii started
    environ = dict(entry.split("=", 1) for entry in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in entry)
    assert node_require_option() in environ.get("NODE_OPTIONS", ""), environ.get("NODE_OPTIONS")
