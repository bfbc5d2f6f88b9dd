"""A cluster's Flux tree as Flux renders it: ``kustomize build`` of each Flux Kustomization's
``spec.path``, then its post-build substitution (``flux_envsubst``) with the variables it asks
for.

The entry directory (``flux/clusters/<kind>``) is built first; each Flux Kustomization in it
names a path and, in ``postBuild``, inline ``substitute`` values and ``substituteFrom``
objects. The one object the platform's Kustomizations read is the ConfigMap
``flux-system/platform-vars``; its data is the caller's (a synth's values, or a lab's).
``kubectl kustomize`` is the build (kustomize v5, the same kyaml serialisation of each
object that the kustomize-controller substitutes over).
"""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from vault_platform.binaries import kube_tool
from vault_platform.errors import ToolError
from vault_platform.gitops.flux_envsubst import SubstitutionError, substitute_object
from vault_platform.gitops.platform_vars import CONFIGMAP_NAME

REPO_ROOT = Path(__file__).resolve().parents[2]
_FLUX_KUSTOMIZATION = ("kustomize.toolkit.fluxcd.io/v1", "Kustomization")


class RenderError(ToolError):
    pass


@dataclass(frozen=True)
class FluxKustomization:
    """What one Flux Kustomization asks of the build: its path and its post-build inputs."""

    name: str
    path: str  # relative to the repository root, as in spec.path
    post_build: bool
    inline: Mapping[str, str]
    substitute_from: tuple[tuple[str, str], ...]  # (kind, name)
    always: bool


@functools.lru_cache(maxsize=None)
def kustomize_build(directory: Path) -> tuple[str, ...]:
    """Each object ``kubectl kustomize directory`` writes, as its own YAML text: the project's
    kubectl 1.35.2 (kustomize v5.7.1, ``make kube-tools``), once per directory and process."""
    result = subprocess.run([str(kube_tool("kubectl")), "kustomize", str(directory)], capture_output=True, text=True,
                            timeout=120)
    if result.returncode != 0:
        raise RenderError(f"{directory}: kustomize build failed: {' '.join(result.stderr.split())}; "
                          f"fix: run `kubectl kustomize {directory}` and correct the file it names")
    return tuple(document for document in _split_documents(result.stdout) if document.strip())


def _split_documents(stream: str) -> list[str]:
    documents, current = [], []
    for line in stream.splitlines(keepends=True):
        if line.rstrip("\n") == "---":
            documents.append("".join(current))
            current = []
        else:
            current.append(line)
    documents.append("".join(current))
    return documents


def flux_kustomizations(cluster: str, repo_root: Path = REPO_ROOT) -> tuple[FluxKustomization, ...]:
    """The Flux Kustomizations of ``flux/clusters/<cluster>``, in file order."""
    found = []
    for text in kustomize_build(repo_root / "flux" / "clusters" / cluster):
        obj = yaml.safe_load(text)
        if (obj.get("apiVersion"), obj.get("kind")) == _FLUX_KUSTOMIZATION:
            found.append(declared(obj))
    return tuple(found)


def declared(obj: Mapping[str, object]) -> FluxKustomization:
    """What a Flux Kustomization object asks of the build."""
    spec = obj["spec"]
    post_build = spec.get("postBuild")
    return FluxKustomization(
        name=obj["metadata"]["name"], path=spec["path"].removeprefix("./"), post_build=post_build is not None,
        inline={k: str(v) for k, v in ((post_build or {}).get("substitute") or {}).items()},
        substitute_from=tuple((ref["kind"], ref["name"]) for ref in (post_build or {}).get("substituteFrom") or ()),
        always=(post_build or {}).get("substituteStrategy") == "Always")


def variables_for(kustomization: FluxKustomization, platform_vars: Mapping[str, str]) -> dict[str, str]:
    """The variables Flux loads for this Kustomization: substituteFrom in order, inline last."""
    variables: dict[str, str] = {}
    for kind, name in kustomization.substitute_from:
        if (kind, name) != ("ConfigMap", CONFIGMAP_NAME):
            raise RenderError(f"Kustomization {kustomization.name}: substituteFrom {kind}/{name} is not "
                              f"{CONFIGMAP_NAME}, the one object this renderer knows; fix: read platform-vars, "
                              "or teach vault_platform/gitops/flux_render.py variables_for the new source")
        variables.update(platform_vars)
    variables.update(kustomization.inline)
    return variables


@dataclass(frozen=True)
class RenderedObject:
    kustomization: str
    source: str  # the object as kustomize built it (before substitution)
    obj: dict  # after Flux's post-build step

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind"))

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])


def render_kustomization(kustomization: FluxKustomization, platform_vars: Mapping[str, str], *,
                         strict: bool = False, repo_root: Path = REPO_ROOT) -> list[RenderedObject]:
    rendered = []
    variables = variables_for(kustomization, platform_vars)
    for text in kustomize_build(repo_root / kustomization.path):
        if kustomization.post_build:
            try:
                obj = substitute_object(text, variables, strict=strict, always=kustomization.always)
            except SubstitutionError as err:
                source = yaml.safe_load(text)
                raise RenderError(f"Kustomization {kustomization.name} ({kustomization.path}): post build failed for "
                                  f"{source.get('kind')}/{source['metadata']['name']}: {err}; fix: escape a literal "
                                  "${ as $${, or annotate the object kustomize.toolkit.fluxcd.io/substitute: disabled") from None
        else:
            obj = yaml.safe_load(text)
        rendered.append(RenderedObject(kustomization.name, text, obj))
    return rendered


def render_cluster(cluster: str, platform_vars: Mapping[str, str], *, strict: bool = False,
                   repo_root: Path = REPO_ROOT) -> dict[str, list[RenderedObject]]:
    """Kustomization name -> its objects as Flux applies them."""
    return {k.name: render_kustomization(k, platform_vars, strict=strict, repo_root=repo_root)
            for k in flux_kustomizations(cluster, repo_root)}


@functools.lru_cache(maxsize=None)
def kustomization_named(cluster: str, name: str) -> FluxKustomization:
    return next(k for k in flux_kustomizations(cluster) if k.name == name)
