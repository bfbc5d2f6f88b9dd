"""Every chart release of a cluster, from where it is declared, rendered by helm.

Flux: each HelmRelease its tree applies (values after substitution, ``valuesFrom`` merged
under ``values`` as helm-controller does, ``targetNamespace``, ``releaseName``).
Terraform: each ``HelmAddonProps`` a platform stack installs (its values with the cluster's
``chart_values`` merged in, as stacks/platform.py cluster_addons does).
"""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass, field

import yaml

from vault_platform.binaries import PROJECT_ROOT
from vault_platform.addons import ChartContext, addons_for, install_order, registry
from vault_platform.config.model import EnvironmentConfig
from vault_platform.errors import ConfigError
from vault_platform.rendering import charts, helm
from vault_platform.rendering.flux_tree import FluxUnit, units
from vault_platform.rendering.platform_values import Cluster, clusters, role_arn, sample_values

FLUX, TERRAFORM = "flux", "terraform"


@dataclass(frozen=True)
class ChartRelease:
    """installer: FLUX or TERRAFORM; source: the file (Flux) or add-on module (Terraform)
    that declares it; unit: the Flux Kustomization that applies it (Flux only)."""

    installer: str
    name: str
    chart: str
    version: str
    release_name: str
    namespace: str
    values: dict = field(compare=False, hash=False)
    source: str = ""
    unit: str = ""
    depends_on: tuple[str, ...] = ()

    def render(self, cluster: Cluster) -> helm.Rendered:
        return helm.template(self.chart, self.version, self.release_name, self.namespace, cluster.kube_version,
                             self.values, source=self.source)

    @property
    def unavailable(self) -> str | None:
        """Why its chart cannot be rendered here, or None."""
        return charts.UNAVAILABLE.get(self.chart)


def _merge(base: dict, overlay: dict) -> dict:
    """Helm's values merge: maps deeply, everything else replaced."""
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _values_from(release: dict, objects: tuple[dict, ...], source: str) -> dict:
    """The HelmRelease's ``valuesFrom`` (ConfigMaps/Secrets of its own namespace, in order)
    merged, then ``values`` over them."""
    namespace = release["metadata"].get("namespace", "default")
    values: dict = {}
    for reference in release["spec"].get("valuesFrom") or ():
        kind, name, key = reference["kind"], reference["name"], reference.get("valuesKey", "values.yaml")
        found = next((obj for obj in objects if obj.get("kind") == kind and obj["metadata"]["name"] == name
                      and obj["metadata"].get("namespace", namespace) == namespace), None)
        data = (found or {}).get("data" if kind == "ConfigMap" else "data") or {}
        if found is None or key not in data:
            if reference.get("optional"):
                continue
            raise ConfigError(f"HelmRelease {release['metadata']['name']}.spec.valuesFrom", f"{kind}/{name}:{key}",
                              "names a values source the same Flux Kustomization does not apply",
                              "add the ConfigMap/Secret beside the HelmRelease, or mark the reference optional", source=source)
        text = base64.b64decode(data[key]).decode() if kind == "Secret" else data[key]
        parsed = yaml.safe_load(text) or {}
        values = _merge(values, parsed if not reference.get("targetPath") else _at_path(reference["targetPath"], parsed))
    return _merge(values, release["spec"].get("values") or {})


def _at_path(path: str, value: object) -> dict:
    result: object = value
    for part in reversed(path.split(".")):
        result = {part: result}
    return result  # type: ignore[return-value]


def _declaring_file(unit_path: str, name: str) -> str:
    """The file under a Kustomization's path that declares HelmRelease ``name`` (the path
    itself when no single file does, e.g. a generated or patched release)."""
    root = (PROJECT_ROOT / unit_path).resolve()
    found = []
    for path in sorted(root.rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if isinstance(document, dict) and document.get("kind") == "HelmRelease" \
                    and (document.get("metadata") or {}).get("name") == name:
                found.append(path)
    chosen = found[0] if len(found) == 1 else root
    return str(chosen.relative_to(PROJECT_ROOT))


def flux_releases(flux_units: tuple[FluxUnit, ...]) -> tuple[ChartRelease, ...]:
    found = []
    for unit in flux_units:
        for obj in unit.objects:
            if obj.get("kind") != "HelmRelease":
                continue
            spec = obj["spec"]
            chart_spec = spec["chart"]["spec"]
            name = obj["metadata"]["name"]
            target = spec.get("targetNamespace") or obj["metadata"].get("namespace", "default")
            default_release = f"{spec['targetNamespace']}-{name}" if spec.get("targetNamespace") else name
            source = f"{_declaring_file(unit.path, name)} (HelmRelease {name})"
            found.append(ChartRelease(
                FLUX, name, chart_spec["chart"], str(chart_spec.get("version", "")), spec.get("releaseName") or default_release,
                target, _values_from(obj, unit.objects, source), source, unit.name,
                tuple(entry["name"] for entry in spec.get("dependsOn") or ())))
    return tuple(found)


def terraform_releases(env: EnvironmentConfig, cluster: Cluster) -> tuple[ChartRelease, ...]:
    values = sample_values(env, cluster)
    eks_name = values["CLUSTER_NAME"]
    context = ChartContext(
        cluster_role=cluster.role, cluster_name=eks_name, region=env.region, vpc_id=values["VPC_ID"],
        role_arns={name: role_arn(values["AWS_ACCOUNT_ID"], eks_name, addon.irsa.role_suffix)
                   for name, addon in registry().items() if addon.irsa is not None},
        gitops=env.gitops, flux_path=f"{env.gitops.path}/{cluster.role}")
    by_name = registry()
    found = []
    for props in install_order(addons_for(cluster.role, env)):
        addon = by_name[props.name]
        if addon.chart_values is not None:
            props = props.with_values(addon.chart_values(context))
        found.append(ChartRelease(
            TERRAFORM, props.name, props.chart, props.version, props.release or props.name, props.namespace,
            _merge({}, _plain(props.values)), f"vault_platform/addons ({props.name})", depends_on=props.depends_on))
    return tuple(found)


def _plain(value: object) -> object:
    """Mapping proxies and tuples as the dicts and lists Helm's values are."""
    if hasattr(value, "items"):
        return {key: _plain(item) for key, item in value.items()}  # type: ignore[union-attr]
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


@dataclass(frozen=True)
class ClusterRender:
    """One cluster of one environment: its Flux units, its chart releases, and each
    release's render (None where the chart is unavailable, ``ChartRelease.unavailable``)."""

    environment: str
    cluster: Cluster
    units: tuple[FluxUnit, ...]
    releases: tuple[ChartRelease, ...]
    rendered: dict[str, helm.Rendered | None] = field(compare=False, hash=False)

    def objects_of(self, release: ChartRelease) -> tuple[dict, ...]:
        rendered = self.rendered[release.name]
        return rendered.objects if rendered is not None else ()

    def all_objects(self) -> list[tuple[str, dict]]:
        """(where it comes from, object) for every object the cluster gets: Flux units' own
        objects and every release's render."""
        entry = f"flux/clusters/{self.cluster.role}"
        found = [(entry, unit.kustomization) for unit in self.units]
        found += [(unit.path, obj) for unit in self.units for obj in unit.objects]
        for release in self.releases:
            found += [(release.source, obj) for obj in self.objects_of(release)]
        return found


def render_cluster(env: EnvironmentConfig, cluster: Cluster) -> ClusterRender:
    flux_units = units(cluster.role, sample_values(env, cluster))
    releases = (*terraform_releases(env, cluster), *flux_releases(flux_units))
    rendered = {release.name: None if release.unavailable else release.render(cluster) for release in releases}
    return ClusterRender(env.name, cluster, flux_units, releases, rendered)


def render_environment(env: EnvironmentConfig) -> tuple[ClusterRender, ...]:
    return tuple(render_cluster(env, cluster) for cluster in clusters(env))
