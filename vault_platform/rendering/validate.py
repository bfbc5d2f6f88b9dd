"""Every rendered object checked against the schema its cluster will apply it with.

- A custom resource (ours in flux/ and every chart's): against the openAPIV3Schema of the
  CRD that the cluster's own renders install, at the version the CRD serves. Read strictly,
  as the API server's pruning does: a field the schema does not declare (and no
  ``x-kubernetes-preserve-unknown-fields`` allows) is reported, since the API server would
  silently drop it. A kind no rendered CRD serves, or a version it does not serve, is an error.
- A built-in kind: against Kubernetes' own OpenAPI schemas for the cluster's version, strict
  (kubernetes-validate's ``-local-strict`` set, additionalProperties false).

Needs the dev packages (jsonschema, referencing, kubernetes-validate): tests and ops only.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

import jsonschema

CRD_KIND = "CustomResourceDefinition"


@dataclass(frozen=True)
class ServedVersion:
    group: str
    kind: str
    version: str
    served: bool
    schema_json: str  # canonical JSON, so a validator can be cached by value


def crd_versions(objects: Iterable[dict]) -> dict[tuple[str, str], dict[str, ServedVersion]]:
    """(group, kind) -> version -> what the CRD says about it, for every CRD in ``objects``."""
    found: dict[tuple[str, str], dict[str, ServedVersion]] = {}
    for obj in objects:
        if obj.get("kind") != CRD_KIND:
            continue
        spec = obj["spec"]
        group, kind = spec["group"], spec["names"]["kind"]
        for version in spec.get("versions") or ():
            schema = ((version.get("schema") or {}).get("openAPIV3Schema")) or {"type": "object",
                                                                                  "x-kubernetes-preserve-unknown-fields": True}
            found.setdefault((group, kind), {})[version["name"]] = ServedVersion(
                group, kind, version["name"], bool(version.get("served")), json.dumps(schema, sort_keys=True))
    return found


def _strict(schema: object, root: bool = True) -> object:
    """A structural schema as JSON Schema, pruning made visible: objects with declared
    properties refuse undeclared ones, ``nullable`` admits null, int-or-string admits both."""
    if isinstance(schema, list):
        return [_strict(item, False) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: _strict(value, False) if key not in ("enum", "default", "example") else value
              for key, value in schema.items()}
    if result.get("nullable") and "type" in result:
        result["type"] = [result["type"], "null"]
    if result.get("x-kubernetes-int-or-string"):
        result.pop("type", None)
        result.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if (result.get("type") == "object" and "properties" in result and "additionalProperties" not in result
            and not result.get("x-kubernetes-preserve-unknown-fields")):
        # apiVersion/kind/metadata are the API server's, declared or not.
        allowed = {"apiVersion", "kind", "metadata"} if root else set()
        result["additionalProperties"] = False
        result["properties"] = {**{name: {} for name in allowed}, **result["properties"]}
    if root:
        result.setdefault("properties", {}).update({"metadata": {"type": "object"}})
    return result


@functools.lru_cache(maxsize=None)
def _crd_validator(schema_json: str) -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator(_strict(json.loads(schema_json)))


def _messages(validator, obj: dict) -> list[str]:
    return [f"{'.'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
            for error in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))]


def validate_custom(obj: dict, crds: dict[tuple[str, str], dict[str, ServedVersion]]) -> list[str]:
    group, _, version = obj["apiVersion"].rpartition("/")
    versions = crds.get((group, obj["kind"]))
    if versions is None:
        return [f"no CRD installed in this cluster serves {obj['kind']} in group {group} "
                "(fix: a typo in kind/apiVersion, or the chart that installs the CRD is missing from this cluster)"]
    served = versions.get(version)
    if served is None or not served.served:
        offered = ", ".join(f"{group}/{name}" for name, v in sorted(versions.items()) if v.served)
        return [f"the pinned CRD does not serve {obj['apiVersion']} (fix: use one it serves: {offered})"]
    return _messages(_crd_validator(served.schema_json), obj)


@functools.lru_cache(maxsize=None)
def builtin_validator(kubernetes_version: str, api_version: str, kind: str):
    from kubernetes_validate import utils as kv_utils
    from referencing import Registry, Resource

    schema_dir = f"kubernetes-json-schema/v{kubernetes_version}-local-strict"
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kv_utils.schema_contents(f"{schema_dir}/{kind.lower()}-{group_version}.json", kubernetes_version)
    except FileNotFoundError:
        return None
    definitions = Resource.from_contents(kv_utils.schema_contents(f"{schema_dir}/_definitions.json", kubernetes_version))
    return jsonschema.Draft202012Validator(schema, registry=Resource.from_contents(schema) @ (definitions @ Registry()))


def is_builtin(api_version: str, kubernetes_version: str) -> bool:
    group = api_version.rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io")


def validate(obj: dict, crds: dict[tuple[str, str], dict[str, ServedVersion]], kubernetes_version: str) -> list[str]:
    """Problems of one object (empty: valid). ``kubernetes_version``: e.g. 1.35.0."""
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    if not api_version or not kind:
        return ["apiVersion and kind are required"]
    if (api_version.rpartition("/")[0], kind) in crds or not is_builtin(api_version, kubernetes_version):
        return validate_custom(obj, crds)
    validator = builtin_validator(kubernetes_version, api_version, kind)
    if validator is None:
        return [f"Kubernetes {kubernetes_version} has no kind {kind} in {api_version}"]
    return _messages(validator, copy.deepcopy(obj))
