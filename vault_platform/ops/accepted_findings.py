"""Accepted findings of a checker, read from the modules that cause them, and the triage
both checkers share.

A checker whose findings can be accepted (checkov: ``CHECKOV_SUPPRESSIONS``, the IAM lint:
``PARLIAMENT_ACCEPTED``) keeps each reason in a module-level dict of the construct or stack
module that writes the resource (or of the add-on that needs it), next to the code it excuses. ``collect`` gathers them;
``triage`` sorts a checker's findings into accepted (with the reason) and failed, and
remembers which entries were used, so an entry nothing uses can be reported as stale.
``resources`` is the walk over a synthesized stack both checkers read their input with.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

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


Registry = Mapping[Hashable, tuple[str, str]]  # key -> (reason, where it is written)
F = TypeVar("F")


def resources(stack_json: Mapping) -> Iterator[tuple[str, str, dict, str]]:
    """Every resource of a synthesized stack: (type, name, body, cdktf construct path)."""
    for resource_type, items in stack_json.get("resource", {}).items():
        for name, body in items.items():
            yield resource_type, name, body, body.get("//", {}).get("metadata", {}).get("path", name)


@dataclass(frozen=True)
class Triage(Generic[F]):
    failed: tuple[F, ...]
    accepted: tuple[tuple[F, str], ...]  # with the reason
    used: frozenset[Hashable]  # the registry keys that accepted something

    def unused(self, registry: Registry) -> tuple[tuple[Hashable, str], ...]:
        """(key, where it is written) of every registry entry that accepted nothing, sorted."""
        return tuple((key, where) for key, (_, where) in sorted(registry.items()) if key not in self.used)


def triage(findings: Iterable[F], registry: Registry, keys: Callable[[F], Sequence[Hashable]], *,
           standing: Callable[[F], str | None] = lambda _: None) -> Triage[F]:
    """Each finding is accepted by a standing rule (``standing`` gives its reason), else by the
    first of ``keys(finding)`` the registry holds, else it fails; in the findings' order."""
    failed: list[F] = []
    accepted: list[tuple[F, str]] = []
    used: set[Hashable] = set()
    for finding in findings:
        reason = standing(finding)
        if reason is None:
            key = next((k for k in keys(finding) if k in registry), None)
            if key is not None:
                used.add(key)
                reason = registry[key][0]
        if reason is None:
            failed.append(finding)
        else:
            accepted.append((finding, reason))
    return Triage(tuple(failed), tuple(accepted), frozenset(used))
