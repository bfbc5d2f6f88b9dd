"""Load the cdktf provider bindings without importing every resource module.

Each prebuilt provider package (``cdktf_cdktf_provider_aws`` and friends) ends its
``__init__`` with one ``from . import <resource>`` line per resource type: 2,135 of them
for AWS, about 8 s of the 10 s it takes to import the package. The resource modules do
not need each other or those lines: each one imports the package's ``_jsii`` module (the
type assembly, which is the real, unavoidable cost) and defines its own classes.

``install()`` therefore puts a finder first on ``sys.meta_path`` that loads each provider
package, when it is first imported, from its own ``__init__`` source minus those lines, so ``from cdktf_cdktf_provider_aws.vpc import Vpc`` loads only
what it names. Everything else in the package's ``__init__`` runs unchanged. The
synthesized JSON is byte-identical to a normal import (tests/test_provider_imports.py
proves it on every stack); set ``VAULT_PLATFORM_EAGER_PROVIDER_IMPORT=1`` to use the normal
import anyway.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import re
import sys
import types

PROVIDER_PACKAGES = (
    "cdktf_cdktf_provider_aws",
    "cdktf_cdktf_provider_kubernetes",
    "cdktf_cdktf_provider_helm",
    "cdktf_cdktf_provider_tls",
)

EAGER_IMPORT_ENV = "VAULT_PLATFORM_EAGER_PROVIDER_IMPORT"

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


class _ShallowPackageLoader(importlib.abc.Loader):
    """Runs a provider package's own ``__init__`` minus its per-resource imports."""

    def __init__(self, package: str, origin: str) -> None:
        self._package = package
        self._origin = origin

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # the default module object, as for any package

    def exec_module(self, module: types.ModuleType) -> None:
        with open(self._origin, encoding="utf-8") as handle:
            source, _ = strip_eager_imports(handle.read(), self._package)
        exec(compile(source, self._origin, "exec"), module.__dict__)  # noqa: S102 - the package's own code


class _ShallowProviderFinder(importlib.abc.MetaPathFinder):
    """Finds the provider packages as the path finder would, with the shallow loader.

    Only a package that is actually imported is loaded, so a process that synthesizes
    AWS stacks never pays for the Kubernetes or Helm type assemblies.
    """

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001 - importlib protocol
        if fullname not in PROVIDER_PACKAGES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None or spec.submodule_search_locations is None:
            return None  # not installed as a package: let the normal machinery report it
        spec.loader = _ShallowPackageLoader(fullname, spec.origin)
        return spec


_FINDER = _ShallowProviderFinder()


def install() -> None:
    """Put the shallow finder first on ``sys.meta_path``, once, unless told not to."""
    if os.environ.get(EAGER_IMPORT_ENV) == "1":
        return
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
