"""What the lab runs of the tooling cluster's Flux tree, as Flux renders it.

``kubectl kustomize`` of the Kustomizations ``vault`` and ``vault-config``, then Flux's
post-build substitution (``vault_platform/gitops/flux_render.py``) with platform-vars. The
base values are the default environment's synthesized ConfigMap (the reviewed snapshot
``tests/snapshots/tooling-platform.json``, which ``tests/test_snapshots.py`` holds equal to a
fresh synth) with each cross-stack reference replaced by a stand-in shaped like the real
value (``gitops/standin_values.py``); the lab then overrides only what points at something it
runs itself (the Kubernetes API and GitLab stand-ins, its PostgreSQL).
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from vault_platform.gitops.flux_render import kustomization_named, render_kustomization
from vault_platform.gitops.standin_values import synthesized_platform_vars, with_standins

REPO_ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = REPO_ROOT / "tests" / "snapshots"
CLUSTER = "tooling"
VAULT_PORT = 8200


def default_platform_vars(cluster: str = CLUSTER) -> dict[str, str]:
    """A cluster's platform-vars of the default environment (its platform stack's reviewed
    synth, ``tests/snapshots/<cluster>-platform.json``), stand-ins named."""
    return with_standins(synthesized_platform_vars(json.loads((SNAPSHOTS / f"{cluster}-platform.json").read_text())))


def rendered(kustomization: str, platform_vars: Mapping[str, str], cluster: str = CLUSTER) -> list[dict]:
    """The objects Flux applies for one of a cluster's Kustomizations."""
    return [o.obj for o in render_kustomization(kustomization_named(cluster, kustomization), platform_vars)]


def one(objects: list[dict], kind: str, name: str) -> dict:
    (found,) = [o for o in objects if o.get("kind") == kind and o["metadata"]["name"] == name]
    return found


class RenderedTypeError(ValueError):
    pass


def string_env(container: dict, owner: str) -> dict[str, str]:
    """A rendered container's env; a value that Flux's substitution turned into a number or a
    boolean is refused, as the API server refuses the object (an env value is a string)."""
    env = {}
    for variable in container.get("env", []):
        value = variable.get("value")
        if not isinstance(value, str):
            raise RenderedTypeError(
                f"{owner} env {variable['name']}: value {value!r} is a YAML {type(value).__name__} after Flux's "
                "substitution; the API server refuses it (an env value must be a string); fix: write it "
                "${quote}${VAR}${quote} with the Kustomization's postBuild.substitute quote: '\"'")
        env[variable["name"]] = value
    return env


def config_map_files(objects: list[dict], name: str, directory: Path) -> Path:
    """The rendered ConfigMap ``name`` (as a volume names it) as the kubelet projects it."""
    directory.mkdir(parents=True, exist_ok=True)
    for key, value in (one(objects, "ConfigMap", name).get("data") or {}).items():
        (directory / key).write_text(value)
    return directory


def vault_certificate_names(platform_vars: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """The DNS names and IP addresses of certificate.yaml (vault-server-tls), as rendered."""
    spec = one(rendered("vault", platform_vars), "Certificate", "vault-server-tls")["spec"]
    return list(spec.get("dnsNames") or ()), list(spec.get("ipAddresses") or ())


@functools.lru_cache(maxsize=None)
def rendered_config_map_dir(kustomization: str, generator: str) -> Path:
    """A directory holding the data of the generated ConfigMap ``generator`` (its name before
    kustomize's hash) as Flux renders it with the default platform-vars: what the pod mounts.
    For code that imports a script in-process (the database engine's tests)."""
    objects = rendered(kustomization, default_platform_vars())
    (name,) = [o["metadata"]["name"] for o in objects
               if o.get("kind") == "ConfigMap" and o["metadata"]["name"].rsplit("-", 1)[0] == generator]
    directory = Path(tempfile.mkdtemp(prefix=f"flux-{generator}-"))
    atexit.register(shutil.rmtree, directory, True)
    return config_map_files(objects, name, directory)
