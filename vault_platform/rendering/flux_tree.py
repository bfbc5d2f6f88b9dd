"""A cluster's Flux tree as Flux applies it: the entry directory's Kustomizations, each one's
path built by kustomize (the project's kubectl), platform-vars substituted where the
Kustomization asks for it (postBuild.substituteFrom / substitute)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from vault_platform.binaries import PROJECT_ROOT
from vault_platform.gitops import flux_envsubst, flux_render

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
FLUX_DIR = PROJECT_ROOT / "flux"


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


def build(directory: Path) -> tuple[dict, ...]:
    """``kubectl kustomize`` of one directory, as objects (gitops/flux_render.py builds it)."""
    return tuple(doc for doc in (yaml.load(text, Loader=_LOADER) for text in flux_render.kustomize_build(directory))
                 if isinstance(doc, dict))


def units(role: str, platform_values: dict[str, str], flux_dir: Path = FLUX_DIR) -> tuple[FluxUnit, ...]:
    """The Flux Kustomizations of ``flux/clusters/<role>`` with what each applies, substituted
    as Flux does it (gitops/flux_render.py, gitops/flux_envsubst.py: one implementation for the
    renders and the Vault lab)."""
    result = []
    # The entries are applied by the cluster's root Kustomization, which substitutes the
    # platform-vars too (addons/flux_sync.py): e.g. gitlab-runner's suspend.
    for text in flux_render.kustomize_build((flux_dir / "clusters" / role).resolve()):
        kustomization = flux_envsubst.substitute_object(text, platform_values)
        if not isinstance(kustomization, dict) or kustomization.get("kind") != "Kustomization":
            continue
        rendered = flux_render.render_kustomization(flux_render.declared(kustomization), platform_values,
                                                    repo_root=flux_dir.resolve().parent)
        result.append(FluxUnit(kustomization, tuple(item.obj for item in rendered)))
    return tuple(result)
