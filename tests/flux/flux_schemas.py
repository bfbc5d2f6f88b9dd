"""Schema validation of rendered objects, strict: an unknown field or kind is an error.

- Kubernetes kinds: the strict OpenAPI-derived JSON schemas of kubernetes-validate (v1.35,
  additionalProperties false).
- Flux, Istio, cert-manager kinds: cloudcoil's pydantic models, generated from each
  project's upstream CRDs. The models ignore unknown keys, so an object is also dumped
  back and every key the model dropped is reported as unknown.
- External Secrets Operator: no maintained PyPI package ships models of its CRDs, so
  eso_schema.py holds a strict subset of its v1 API, written by hand (see there).
- Flux's image kinds (image.toolkit.fluxcd.io/v1): cloudcoil has no v1 models, so they are
  checked against the CRDs the pinned flux2 chart serves (Helm renders them, once per process).

A value that is one whole ``${VAR}`` is Flux's to substitute: a pattern it cannot match yet is
not reported here (tests/rendering checks the substituted object against the pinned CRDs).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import pkgutil
import re

import jsonschema
import pydantic

import eso_schema
from vault_platform.rendering.validate import builtin_validator, crd_versions, validate_custom

KUBERNETES_VERSION = "1.35.0"  # what the clusters run (config/versions.py)
CLOUDCOIL_PACKAGES = ("cloudcoil.models.fluxcd", "cloudcoil.models.istio", "cloudcoil.models.cert_manager")
IMAGE_GROUP = "image.toolkit.fluxcd.io/"
WHOLE_VARIABLE = re.compile(r"^\$\{\w+\}$")
CRD_GROUP = re.compile(r"^(?:[a-z0-9-]+\.)*(?:fluxcd\.io|istio\.io|cert-manager\.io)/")


@functools.lru_cache(maxsize=None)
def _cloudcoil_models() -> dict[tuple[str, str], type]:
    from cloudcoil.resources import Resource

    models = {}
    for package_name in CLOUDCOIL_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, package_name + "."):
            module = importlib.import_module(info.name)
            for obj in vars(module).values():
                if inspect.isclass(obj) and issubclass(obj, Resource) and obj.__module__ == module.__name__:
                    api_version = obj.model_fields["api_version"].default
                    kind = obj.model_fields["kind"].default
                    if isinstance(kind, str) and isinstance(api_version, str):
                        models[(api_version, kind)] = obj
    return models


@functools.lru_cache(maxsize=1)
def _flux_chart_crds():
    """The CRDs of the pinned flux2 chart, rendered with its defaults (image controllers on)."""
    from vault_platform.addons.flux import ADDON
    from vault_platform.rendering import helm

    chart = ADDON.chart
    rendered = helm.template(chart.chart, chart.version, chart.name, chart.namespace, KUBERNETES_VERSION, {},
                             source="vault_platform/addons/flux.py")
    return crd_versions(rendered.objects)


def _kubernetes_validator(api_version: str, kind: str):
    """A jsonschema validator for one built-in kind, or None if Kubernetes has no such kind."""
    return builtin_validator(KUBERNETES_VERSION, api_version, kind)


def _dropped_keys(given, kept, path=""):
    """Keys in `given` that the model did not keep: fields the CRD does not have."""
    if isinstance(given, dict) and isinstance(kept, dict):
        for key, value in given.items():
            where = f"{path}.{key}" if path else key
            if key not in kept:
                yield where
            else:
                yield from _dropped_keys(value, kept[key], where)
    elif isinstance(given, list) and isinstance(kept, list):
        for index, (a, b) in enumerate(zip(given, kept)):
            yield from _dropped_keys(a, b, f"{path}[{index}]")


def _validate_model(model, obj) -> list[str]:
    try:
        # JSON mode + strict: "3" is not an int, yet enum values may be given as strings.
        instance = model.model_validate_json(json.dumps(obj), strict=True)
    except pydantic.ValidationError as err:
        return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
                if not (e["type"] == "string_pattern_mismatch" and WHOLE_VARIABLE.match(str(e.get("input"))))]
    kept = instance.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return [f"{key}: unknown field" for key in _dropped_keys(obj, kept)]


def validate(obj: dict) -> list[str]:
    """Problems of one object against its kind's schema; empty when it is valid."""
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    if not api_version or not kind:
        return ["apiVersion and kind are required"]
    if api_version.startswith("external-secrets.io/"):
        schema = eso_schema.SCHEMAS.get((api_version, kind))
        if schema is None:
            return [f"no schema for {kind} in {api_version}"]
        validator = jsonschema.Draft202012Validator(schema)
        return [f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
                for e in validator.iter_errors(obj)]
    if api_version.startswith(IMAGE_GROUP):
        return validate_custom(obj, _flux_chart_crds())
    if CRD_GROUP.match(api_version):
        model = _cloudcoil_models().get((api_version, kind))
        if model is None:
            return [f"no CRD model for {kind} in {api_version} (typo, or a version the pinned CRDs lack)"]
        return _validate_model(model, obj)
    validator = _kubernetes_validator(api_version, kind)
    if validator is None:
        return [f"Kubernetes {KUBERNETES_VERSION} has no kind {kind} in {api_version}"]
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
            for e in validator.iter_errors(obj)]
