"""A Helm chart as an add-on declares it, and the checks on such declarations: plain data,
no cdktf. The add-on registry (vault_platform/addons/) and config validation read these
without starting the jsii runtime; constructs/helm_addon.py installs them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from vault_platform.errors import ConfigError

# One released version: 1.2.3, v1.2.3 or 1.2.3-rc.1. No ranges (~, ^, >=, x, *), no
# omission: Helm would otherwise pick whatever is newest on the day of the apply.
EXACT_CHART_VERSION = re.compile(r"^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$")


def _no_values() -> Mapping[str, object]:
    return MappingProxyType({})


@dataclass(frozen=True)
class HelmAddonProps:
    """name: the add-on's name in the registry (what dependencies refer to). release: the
    Helm release name. depends_on: add-ons that must be installed first, in this stack.
    needs: other resources of the stack it must wait for, by the name the stack gives them
    in ``install_addons(resources=...)`` (a namespace, a ConfigMap it reads). values: the chart's values; strings may carry Terraform tokens. create_namespace: let
    Helm create ``namespace`` (for a namespace no other resource of the stack manages)."""

    name: str
    chart: str
    repository: str
    version: str
    namespace: str
    release: str = ""  # default: the add-on name
    description: str = ""
    depends_on: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    create_namespace: bool = False
    values: Mapping[str, object] = field(default_factory=_no_values)
    # Seconds Helm waits for the release's workloads to become ready.
    timeout_seconds: int = 600

    def with_values(self, values: Mapping[str, object]) -> HelmAddonProps:
        """The default props with this stack's values merged over the defaults (one level deep)."""
        merged = dict(self.values)
        for key, value in values.items():
            if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
        return replace(self, values=MappingProxyType(merged))


def validate_addon(props: HelmAddonProps) -> None:
    if not EXACT_CHART_VERSION.match(props.version or ""):
        raise ConfigError(
            f"addons.{props.name}.version", props.version,
            f"is not one exact chart version of {props.chart} (ranges and 'latest' make every apply a possible upgrade)",
            "pin a released version, e.g. 1.13.0",
        )


def check_dependencies(addons: Sequence[HelmAddonProps]) -> None:
    """Every dependency is an add-on of the same list, listed before the add-on that needs it."""
    seen: set[str] = set()
    names = {addon.name for addon in addons}
    for addon in addons:
        for dependency in addon.depends_on:
            if dependency not in names:
                raise ConfigError(
                    f"addons.{addon.name}.depends_on", dependency,
                    f"add-on '{addon.name}' needs add-on '{dependency}', which this stack does not install",
                    f"install '{dependency}' in the same stack, or leave '{addon.name}' out",
                )
            if dependency not in seen:
                raise ConfigError(
                    f"addons.{addon.name}.depends_on", dependency,
                    f"add-on '{addon.name}' needs add-on '{dependency}', which is listed after it",
                    f"list '{dependency}' before '{addon.name}'",
                )
        seen.add(addon.name)


def validate_addons(addons: Sequence[HelmAddonProps]) -> None:
    """Versions pinned and dependencies present: call before building anything."""
    for addon in addons:
        validate_addon(addon)
    check_dependencies(addons)


def check_needs(addons: Sequence[HelmAddonProps], resources: Mapping[str, object]) -> None:
    """Every resource an add-on needs is one the stack names (its value may be None: a
    resource this environment does not create, e.g. the deploy key Secret over https)."""
    for addon in addons:
        for name in addon.needs:
            if name not in resources:
                raise ConfigError(
                    f"addons.{addon.name}.needs", name,
                    f"add-on '{addon.name}' waits for resource '{name}', which this stack does not name",
                    f"pass '{name}' in install_addons(resources=...), or drop it from the add-on's needs",
                )
