"""A cluster's Flux tree as Flux applies it: the entry directory's Kustomizations, each one's
path built by kustomize (the project's kubectl), platform-vars substituted where the
Kustomization asks for it (postBuild.substituteFrom / substitute)."""

from __future__ import annotations

import functools
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from vault_platform.binaries import PROJECT_ROOT, kube_tool
from vault_platform.errors import ToolError
from vault_platform.gitops.substitution import substitute

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
SUBSTITUTE_ANNOTATION = "kustomize.toolkit.fluxcd.io/substitute"
FLUX_DIR = PROJECT_ROOT / "flux"


class KustomizeError(ToolError):
    pass


@dataclass(frozen=True)
class FluxUnit:
    """One Flux Kustomization of a cluster and the objects it applies."""

    kustomization: dict
    objects: tuple[dict, ...]

    @property
    def name(self) -> str:
        return self.kustomization["metadata"]["name"]

    @property
    def path(self) -> str:
        return self.kustomization["spec"]["path"]

    @property
    def depends_on(self) -> tuple[str, ...]:
        return tuple(entry["name"] for entry in self.kustomization["spec"].get("dependsOn") or ())


@functools.lru_cache(maxsize=None)
def build(directory: Path) -> tuple[dict, ...]:
    """``kubectl kustomize`` of one directory (kustomize v5.7.1 from kubectl 1.35.2)."""
    result = subprocess.run([str(kube_tool("kubectl")), "kustomize", str(directory)],
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise KustomizeError(f"{directory.relative_to(PROJECT_ROOT)}/kustomization.yaml does not build: "
                             f"{' '.join(result.stderr.split())}; fix: run `kubectl kustomize` on it and correct the file it names")
    return tuple(doc for doc in yaml.load_all(result.stdout, Loader=_LOADER) if isinstance(doc, dict))


def substituted(obj: dict, values: dict[str, str]) -> dict:
    """What Flux applies of ``obj`` after postBuild substitution with ``values``."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if annotations.get(SUBSTITUTE_ANNOTATION) == "disabled":
        return obj
    text = yaml.dump(obj, Dumper=_DUMPER, sort_keys=False)
    return yaml.load(substitute(text, values), Loader=_LOADER)


def units(role: str, platform_values: dict[str, str], flux_dir: Path = FLUX_DIR) -> tuple[FluxUnit, ...]:
    """The Flux Kustomizations of ``flux/clusters/<role>`` with what each applies."""
    result = []
    for kustomization in build((flux_dir / "clusters" / role).resolve()):
        if kustomization.get("kind") != "Kustomization":
            continue
        spec = kustomization["spec"]
        post_build = spec.get("postBuild") or {}
        values = {**platform_values, **(post_build.get("substitute") or {})} if post_build else None
        objects = build((PROJECT_ROOT / spec["path"]).resolve())
        if values is not None:
            objects = tuple(substituted(obj, values) for obj in objects)
        result.append(FluxUnit(kustomization, objects))
    return tuple(result)
