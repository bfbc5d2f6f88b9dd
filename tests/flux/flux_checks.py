"""Reusable checks of the GitOps tree. Each returns a list of messages (empty: passes);
each message names the file to change and how to fix it.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from vault_platform.constructs.helm_chart import EXACT_CHART_VERSION
from vault_platform.gitops.platform_vars import CONFIGMAP_NAME
from vault_platform.gitops.substitution import variable_names
from vault_platform.binaries import kube_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
FLUX_DIR = REPO_ROOT / "flux"


class BuildError(Exception):
    pass


# A whole-value ${VAR:=true|false} is a boolean on purpose: Flux documents that a substituted
# boolean comes back typed ("Post build substitution of numbers and booleans"). The one use:
# flux/clusters/tooling/gitlab-runner.yaml's suspend (true without [ci]). The raw build is
# validated with the default in its place, and the substitution may retype it.
TYPED_BOOLEAN = re.compile(r"^\$\{[A-Z_][A-Z0-9_]*:=(true|false)\}$")


def with_boolean_defaults(value):
    """``value`` with every TYPED_BOOLEAN string replaced by its default, as a bool."""
    if isinstance(value, dict):
        return {key: with_boolean_defaults(item) for key, item in value.items()}
    if isinstance(value, list):
        return [with_boolean_defaults(item) for item in value]
    match = TYPED_BOOLEAN.match(value) if isinstance(value, str) else None
    return match.group(1) == "true" if match else value


def rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def kustomization_dirs(root: Path = FLUX_DIR) -> list[Path]:
    return sorted(p.parent for p in root.rglob("kustomization.yaml"))


def build(directory: Path) -> list[dict]:
    """The objects `kubectl kustomize` renders from one directory."""
    kubectl = kube_tool("kubectl")  # the project's kubectl 1.35.2 (kustomize v5.7.1), make kube-tools
    result = subprocess.run([str(kubectl), "kustomize", str(directory)],
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise BuildError(f"{rel(directory)}/kustomization.yaml does not build: "
                         f"{result.stderr.strip()}\n  fix: run `kubectl kustomize {rel(directory)}` "
                         "and correct the file it names (missing resource, bad patch, YAML error)")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def describe(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    name = f"{meta['namespace']}/{meta.get('name')}" if meta.get("namespace") else meta.get("name")
    return f"{obj.get('kind')} {name}"


def source_files(directory: Path) -> list[Path]:
    """Files a kustomization reads: its own tree and, recursively, the bases it names."""
    seen, files, todo = set(), [], [Path(directory).resolve()]
    while todo:
        d = todo.pop()
        if d in seen or not d.is_dir():
            continue
        seen.add(d)
        files += [f for f in sorted(d.rglob("*")) if f.is_file()]
        kfile = d / "kustomization.yaml"
        if kfile.exists():
            spec = yaml.safe_load(kfile.read_text()) or {}
            for entry in spec.get("resources", []) + spec.get("components", []):
                target = (d / entry).resolve()
                if target.is_dir() and not str(target).startswith(str(d) + "/"):
                    todo.append(target)
    return files


def locate(directory: Path, needle: str) -> str:
    """The file(s) under a kustomization that contain `needle`, for error messages."""
    hits = [rel(f) for f in source_files(directory) if needle in f.read_text(errors="ignore")]
    return ", ".join(hits) if hits else f"{rel(directory)}/"


def variables(objects: list[dict]) -> set[str]:
    return variable_names(yaml.safe_dump_all(objects))


def check_variables(directory: Path, objects: list[dict], allowed: set[str], cluster: str) -> list[str]:
    """Every ${VAR} the rendered objects use is a platform var of this cluster."""
    return [f"{locate(directory, '${' + name)}: ${{{name}}} is not a platform var of the "
            f"{cluster} cluster\n  fix: use one of vault_platform/gitops/platform_vars.py's keys for "
            f"{cluster} ({', '.join(sorted(allowed))}), or add {name} there for {cluster} "
            "(Terraform must then write it into platform-vars)"
            for name in sorted(variables(objects) - allowed)]


def substitutes_platform_vars(flux_kustomization: dict) -> bool:
    sources = ((flux_kustomization.get("spec") or {}).get("postBuild") or {}).get("substituteFrom") or []
    return any(s.get("kind") == "ConfigMap" and s.get("name") == CONFIGMAP_NAME for s in sources)


def check_substitute_from(cluster_file: str, flux_kustomization: dict, objects: list[dict]) -> list[str]:
    """A Kustomization whose manifests use ${VAR} must read platform-vars."""
    used = variables(objects)
    if not used or substitutes_platform_vars(flux_kustomization):
        return []
    name = flux_kustomization["metadata"]["name"]
    return [f"{cluster_file}: Kustomization {name} renders ${{{sorted(used)[0]}}} (and "
            f"{len(used) - 1} more) but has no postBuild.substituteFrom of ConfigMap "
            f"{CONFIGMAP_NAME}\n  fix: add spec.postBuild.substituteFrom: "
            f"[{{kind: ConfigMap, name: {CONFIGMAP_NAME}}}]"]


def check_chart_pinned(directory: Path, obj: dict) -> list[str]:
    """A HelmRelease names one exact chart version: no range, wildcard or omission."""
    if obj.get("kind") != "HelmRelease":
        return []
    chart = (((obj.get("spec") or {}).get("chart") or {}).get("spec")) or {}
    version = str(chart.get("version", ""))
    if EXACT_CHART_VERSION.match(version):
        return []
    where = locate(directory, f"chart: {chart.get('chart')}") if chart.get("chart") else rel(directory)
    return [f"{where}: {describe(obj)} has chart version {version or '<none>'!r}, not an exact "
            "version\n  fix: set spec.chart.spec.version to one released version, e.g. \"1.2.3\""]


def check_no_secret_data(directory: Path, obj: dict) -> list[str]:
    """Git never holds secret values: a Secret with data or stringData is refused."""
    if obj.get("kind") != "Secret" or not (obj.get("data") or obj.get("stringData")):
        return []
    return [f"{locate(directory, 'kind: Secret')}: {describe(obj)} carries data in Git\n"
            "  fix: put the value in Vault (kv/) and sync it with an ExternalSecret"]


def check_vault_ha(hr: dict) -> list[str]:
    """Vault's raft config has a retry_join for every replica and an awskms seal."""
    server = ((hr.get("spec") or {}).get("values") or {}).get("server") or {}
    ha = server.get("ha") or {}
    config = (ha.get("raft") or {}).get("config") or ""
    problems = []
    if not (ha.get("enabled") and (ha.get("raft") or {}).get("enabled")):
        problems.append("server.ha.enabled and server.ha.raft.enabled must be true")
    joined = set(re.findall(r'retry_join\s*\{[^}]*leader_api_addr\s*=\s*"([^"]+)"', config))
    for index in range(int(ha.get("replicas") or 0)):
        if f"https://vault-{index}.vault-internal:8200" not in joined:
            problems.append(f"raft config lacks a retry_join for vault-{index}")
    seal = re.search(r'seal\s+"awskms"\s*\{(?:[^{}]|\$\{\w+\})*\}', config)
    if not seal or '"${VAULT_KMS_KEY_ID}"' not in seal.group(0):
        problems.append('raft config lacks seal "awskms" with kms_key_id = "${VAULT_KMS_KEY_ID}"')
    return [f"{describe(hr)}: {p}" for p in problems]


def check_mesh_security(objects: list[dict]) -> list[str]:
    """Mesh-wide STRICT mTLS and a mesh-wide default-deny AuthorizationPolicy."""
    root = [o for o in objects if (o.get("metadata") or {}).get("namespace") == "istio-system"]
    strict = [o for o in root if o.get("kind") == "PeerAuthentication"
              and not (o.get("spec") or {}).get("selector")
              and ((o.get("spec") or {}).get("mtls") or {}).get("mode") == "STRICT"]
    deny = [o for o in root if o.get("kind") == "AuthorizationPolicy" and not o.get("spec")]
    problems = []
    if not strict:
        problems.append("no mesh-wide PeerAuthentication (istio-system, no selector) with mtls.mode STRICT")
    if not deny:
        problems.append("no mesh-wide default-deny AuthorizationPolicy (istio-system, spec: {})")
    return problems
