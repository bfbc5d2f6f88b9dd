"""Load the cdktf provider bindings without importing every resource module.

Each prebuilt provider package (``cdktf_cdktf_provider_aws`` and friends) ends its
``__init__`` with one ``from . import <resource>`` line per resource type: 2,135 of them
for AWS, about 8 s of the 10 s it takes to import the package. The resource modules do
not need each other or those lines: each one imports the package's ``_jsii`` module (the
type assembly, which is the real, unavoidable cost) and defines its own classes.

``install()`` therefore puts a finder first on ``sys.meta_path`` that loads each provider
package, when it is first imported, from its own ``__init__`` source minus those lines, so ``from cdktf_cdktf_provider_aws.vpc import Vpc`` loads only
what it names. Everything else in the package's ``__init__`` runs unchanged. The
synthesized JSON is byte-identical to a normal import (tests/test_synth_output.py proves
it on every stack); set ``VAULT_PLATFORM_EAGER_PROVIDER_IMPORT=1`` to use the normal import
anyway.

The same finder sends each type assembly (constructs', cdktf's, each provider's) to the jsii
kernel from a thread of its own (``_AssemblyLoads``). Loading one is Node's work (1.6 s for
AWS, 0.9 s for Kubernetes, measured in jsii's ``send``) while Python only waits; meanwhile
the importing thread goes on with what needs no kernel: the resource modules' classes and
the project's own modules (about 0.2 s of a synth). ``start_kernel`` (main.py) starts Node on
that thread before any of it. Every other kernel call first waits for what was sent before
it, so Node sees the same requests in the same order as without the thread, and a load that
fails raises at that call. The eager-import switch above turns this off too.

Node has the same eager lines: each provider's ``lib/index.js`` requires every one of its
resource modules, and compiling them was most of the kernel's loads (3.3 s of a 4.3 s synth).
``install()`` therefore also preloads ``node_lazy_exports.cjs`` into the jsii runtime's Node
(NODE_OPTIONS ``--require``), which makes those requires happen at first use; see that file.
The eager-import switch turns it off as well; ``VAULT_PLATFORM_EAGER_NODE_EXPORTS=1`` turns
off only the Node half (the benchmark's floor: the provider modules loaded as jsii loads them).
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import os
import re
import sys
import threading
import types
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when first used: logging comes with it, 6 ms of every process's import
    from concurrent.futures import Future, ThreadPoolExecutor

PROVIDER_PACKAGES = (
    "cdktf_cdktf_provider_aws",
    "cdktf_cdktf_provider_kubernetes",
    "cdktf_cdktf_provider_helm",
    "cdktf_cdktf_provider_tls",
)

# Packages whose type assembly is loaded in the background too (their own import is not changed).
BACKGROUND_ASSEMBLY_PACKAGES = (*PROVIDER_PACKAGES, "constructs", "cdktf")

EAGER_IMPORT_ENV = "VAULT_PLATFORM_EAGER_PROVIDER_IMPORT"
EAGER_NODE_EXPORTS_ENV = "VAULT_PLATFORM_EAGER_NODE_EXPORTS"
LAZY_NODE_EXPORTS = Path(__file__).with_name("node_lazy_exports.cjs")

# The generated eager imports: a whole line, a relative import of one submodule.
_EAGER_SUBMODULE_IMPORT = re.compile(r"^from \. import [A-Za-z_][A-Za-z0-9_]*\n", re.MULTILINE)


class ProviderLayoutChanged(RuntimeError):
    """A provider package no longer has the layout this loader was written for."""


def strip_eager_imports(source: str, package: str) -> tuple[str, int]:
    """Return the package source without its per-resource imports, and how many went.

    Refuses a source that has none: that means the generator changed and the
    assumption behind this module must be checked again, not silently skipped.
    """
    stripped, count = _EAGER_SUBMODULE_IMPORT.subn("", source)
    if count == 0:
        raise ProviderLayoutChanged(
            f"{package}: no 'from . import <module>' lines found in its __init__; "
            f"the shallow loader does not know this layout (set {EAGER_IMPORT_ENV}=1 to import it normally)"
        )
    if "from ._jsii import *" not in stripped:
        raise ProviderLayoutChanged(f"{package}: its __init__ no longer loads ._jsii; the shallow loader needs review")
    return stripped, count


class _ShallowPackageLoader:
    """Runs a provider package's own ``__init__`` minus its per-resource imports. (A loader is
    what has ``create_module`` and ``exec_module``; not deriving from ``importlib.abc.Loader``
    spares every process that imports the package ``importlib.abc`` and what it imports, 2-3 ms.)"""

    def __init__(self, package: str, origin: str) -> None:
        self._package = package
        self._origin = origin

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # the default module object, as for any package

    def exec_module(self, module: types.ModuleType) -> None:
        with open(self._origin, encoding="utf-8") as handle:
            source, _ = strip_eager_imports(handle.read(), self._package)
        exec(compile(source, self._origin, "exec"), module.__dict__)  # noqa: S102 - the package's own code


class _AssemblyLoads:
    """Type-assembly loads sent to the jsii kernel by one thread of their own, in order.

    ``during(...)`` makes ``jsii.JSIIAssembly.load`` submit its load (extraction, the kernel's
    ``load``, jsii's Python-side registration: jsii's own function, unchanged) and return the
    assembly record at once. The gate put in front of jsii's kernel (``install_gate``) makes
    a request from any other thread first wait for everything submitted, so no request ever
    reaches Node before the assemblies it may need, nor while a load is on the pipe, and
    only one Node process is ever started."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._pending: list[Future] = []
        self._thread_id: int | None = None
        self._lock = threading.Lock()

    def call(self, function, *args, **kwargs) -> None:  # noqa: ANN001 - any callable, run in order on the load thread
        from concurrent.futures import ThreadPoolExecutor

        with self._lock:
            if self._executor is None:
                # Not a daemon: a process that only imports (the benchmark's floor) still ends
                # with every load done, before jsii's exit hook stops the kernel.
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jsii-assembly-load",
                                                    initializer=self._record_thread)
            self._pending.append(self._executor.submit(function, *args, **kwargs))

    def _record_thread(self) -> None:
        self._thread_id = threading.get_ident()

    def wait(self) -> None:
        """Block until everything submitted is done; re-raise the first that failed."""
        while True:
            with self._lock:
                if not self._pending:
                    return
                future = self._pending.pop(0)
            future.result()

    def install_gate(self) -> None:
        """Put the gate in front of jsii's kernel, once: its provider's ``_process`` property,
        which every kernel call reads first (and whose first read starts Node), waits for
        everything submitted when read from any other thread. Not at install(): importing
        jsii there would cost every process that imports the package, an unchanged synth
        too, which never reaches a kernel."""
        from jsii._kernel.providers.process import ProcessProvider

        with self._lock:
            process = ProcessProvider.__dict__["_process"]
            if getattr(process.fget, "waits_for_assembly_loads", False):
                return

            def gated_process(provider):  # noqa: ANN001, ANN202
                if threading.get_ident() != self._thread_id:
                    self.wait()
                return process.fget(provider)

            gated_process.waits_for_assembly_loads = True
            ProcessProvider._process = property(gated_process)

    @contextlib.contextmanager
    def during(self) -> Iterator[None]:
        import jsii

        self.install_gate()
        descriptor = jsii.JSIIAssembly.__dict__["load"]
        if getattr(descriptor.__func__, "submits_to_load_thread", False):
            yield  # an assembly module imported by another one (cdktf's imports constructs'): already in place
            return
        load = jsii.JSIIAssembly.load  # jsii's own, bound to its class

        def submit(cls, *args, **kwargs):  # noqa: ANN001, ANN202 - jsii's classmethod signature
            self.call(load, *args, **kwargs)
            return cls(*args, **kwargs)  # the record jsii's load returns (name, version, module, filename)

        submit.submits_to_load_thread = True
        jsii.JSIIAssembly.load = classmethod(submit)
        try:
            yield
        finally:
            jsii.JSIIAssembly.load = descriptor


_LOADS = _AssemblyLoads()


class _BackgroundAssemblyLoader(importlib.machinery.SourceFileLoader):
    """Runs a provider's ``_jsii`` module (the one that loads its type assembly) as the normal
    loader does (bytecode, and the resource reader jsii finds the assembly's tarball with),
    with its ``JSIIAssembly.load`` sent through ``_LOADS``."""

    def exec_module(self, module: types.ModuleType) -> None:
        with _LOADS.during():
            super().exec_module(module)


class _ShallowProviderFinder:
    """Finds the provider packages as the path finder would, with the shallow loader (a meta
    path finder is what has ``find_spec``: no ``importlib.abc`` base, as for the loader).

    Only a package that is actually imported is loaded, so a process that synthesizes
    AWS stacks never pays for the Kubernetes or Helm type assemblies.
    """

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001 - importlib protocol
        package, _, rest = fullname.partition(".")
        if not (package in PROVIDER_PACKAGES and rest == "") and not (package in BACKGROUND_ASSEMBLY_PACKAGES and rest == "_jsii"):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None or spec.submodule_search_locations is None:
            return None  # not installed as a package: let the normal machinery report it
        spec.loader = _ShallowPackageLoader(fullname, spec.origin) if not rest else _BackgroundAssemblyLoader(fullname, spec.origin)
        return spec


_FINDER = _ShallowProviderFinder()


def node_require_option(preload: Path = LAZY_NODE_EXPORTS) -> str:
    """Node's ``--require`` of ``preload`` as NODE_OPTIONS spells a value: double-quoted, with
    backslashes and quotes escaped (a checkout path may hold spaces)."""
    escaped = str(preload).replace("\\", "\\\\").replace('"', '\\"')
    return f'--require "{escaped}"'


def with_lazy_node_exports(options: str, lazy: bool, preload: Path = LAZY_NODE_EXPORTS) -> str:
    """NODE_OPTIONS ``options`` with the lazy-exports preload once (lazy) or not at all: a
    child process inherits its parent's NODE_OPTIONS and decides again."""
    require = node_require_option(preload)
    others = " ".join(part.strip() for part in options.split(require) if part.strip())
    return f"{others} {require}".strip() if lazy else others


def lazy_node_exports(environ: MutableMapping[str, str] = os.environ) -> None:
    """Set NODE_OPTIONS for the jsii runtime's Node, which reads it when it starts: the
    lazy-exports preload unless an eager switch is on."""
    lazy = environ.get(EAGER_IMPORT_ENV) != "1" and environ.get(EAGER_NODE_EXPORTS_ENV) != "1"
    current = environ.get("NODE_OPTIONS")
    options = with_lazy_node_exports(current or "", lazy)
    if options != (current or ""):
        environ["NODE_OPTIONS"] = options


def install() -> None:
    """Put the shallow finder first on ``sys.meta_path``, once, and the lazy-exports preload
    in NODE_OPTIONS, unless told not to."""
    lazy_node_exports()
    if os.environ.get(EAGER_IMPORT_ENV) == "1":
        return
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def start_kernel() -> None:
    """Import jsii and start its Node process on the load thread, now: what a synth does
    first, begun while the caller goes on (main.py calls it once the synth cache has missed
    and the environments are valid: Node's start and the type assemblies' loads are the
    synth's longest chain)."""
    if os.environ.get(EAGER_IMPORT_ENV) == "1":
        return

    def start() -> None:
        import jsii

        _LOADS.install_gate()
        jsii.kernel.provider._process  # noqa: B018, SLF001 - jsii starts Node at this property's first read

    _LOADS.call(start)

