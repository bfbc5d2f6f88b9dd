"""Accepted findings of a checker, read from the modules that cause them.

A checker whose findings can be accepted (checkov: ``CHECKOV_SUPPRESSIONS``, the IAM lint:
``PARLIAMENT_ACCEPTED``) keeps each reason in a module-level dict of the construct or stack
module that writes the resource (or of the add-on that needs it), next to the code it excuses. This collects them.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Hashable

import vault_platform.addons
import vault_platform.constructs
import vault_platform.stacks


def collect(registry_name: str) -> dict[Hashable, tuple[str, str]]:
    """Every ``<registry_name>`` entry of the construct, add-on and stack modules (add-on
    subpackages included): key -> (reason, module)."""
    found: dict[Hashable, tuple[str, str]] = {}
    for package in (vault_platform.constructs, vault_platform.addons, vault_platform.stacks):
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
            module = importlib.import_module(info.name)
            for key, reason in getattr(module, registry_name, {}).items():
                found[key] = (reason, info.name)
    return found
