"""A cluster add-on installed as one Helm release, from a pinned chart version.

Add-ons declare their chart as ``HelmAddonProps`` in their module (``vault_platform/addons/``)
and are installed together by ``install_addons``, which refuses, before any construct exists,
a chart version that is not one exact release and an add-on whose dependencies are not
installed with it. Values are handed to Helm as one JSON document (JSON is YAML), so a
value Terraform only knows at apply time (a role ARN by cross-stack reference) sits in the
document as an interpolation and the synthesized JSON stays readable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from cdktf import ITerraformDependable, TerraformProvider
from cdktf_cdktf_provider_helm.release import Release
from constructs import Construct

from vault_platform.constructs.helm_chart import HelmAddonProps, check_needs, validate_addon, validate_addons


class HelmAddon(Construct):
    def __init__(self, scope: Construct, id: str, props: HelmAddonProps, *, provider: TerraformProvider,
                 depends_on: Sequence[ITerraformDependable] = ()) -> None:
        super().__init__(scope, id)
        validate_addon(props)
        self.props = props
        self.release = Release(
            self, "release",
            name=props.release or props.name,
            chart=props.chart,
            repository=props.repository,
            version=props.version,
            namespace=props.namespace,
            create_namespace=props.create_namespace,
            description=props.description or None,
            values=[json.dumps(_plain(props.values), indent=2, sort_keys=True)] if props.values else None,
            # A failed install or upgrade rolls back instead of leaving a half-applied release.
            atomic=True,
            cleanup_on_fail=True,
            wait=True,
            timeout=props.timeout_seconds,
            max_history=10,
            provider=provider,
            depends_on=list(depends_on) or None,
        )


def _plain(value: object) -> object:
    """MappingProxyType and tuples as JSON-serialisable dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def install_addons(scope: Construct, addons: Sequence[HelmAddonProps], *, provider: TerraformProvider,
                   resources: Mapping[str, ITerraformDependable | None] | None = None) -> dict[str, HelmAddon]:
    """Install ``addons`` in order, each after the stack ``resources`` it needs and the
    add-ons it depends on (both declared in its props)."""
    resources = resources or {}
    validate_addons(addons)
    check_needs(addons, resources)
    installed: dict[str, HelmAddon] = {}
    for addon in addons:
        needs = [resources[name] for name in addon.needs if resources[name] is not None]
        before = [installed[name].release for name in addon.depends_on]
        installed[addon.name] = HelmAddon(scope, addon.name, addon, provider=provider, depends_on=[*needs, *before])
    return installed
