"""What a cluster's rendered workloads ask of its nodes, for the synth-time schedulability
check (gitops/scheduling.py), which cannot run Helm. Written to
``vault_platform/gitops/workload_demand.json`` by

    python -m vault_platform.rendering.demand --write

and held equal to the renders by tests/rendering/test_schedulable.py (so it never goes stale).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vault_platform.rendering.releases import ClusterRender

DEMAND_FILE = Path(__file__).resolve().parents[1] / "gitops" / "workload_demand.json"
HOSTNAME, ZONE = "kubernetes.io/hostname", "topology.kubernetes.io/zone"


def millicores(value: object) -> int:
    text = str(value or "0")
    return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)


def mebibytes(value: object) -> int:
    text = str(value or "0")
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "K": 1000 / 1048576, "M": 1e6 / 1048576, "G": 1e9 / 1048576}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return int(-(-float(text[: -len(suffix)]) * factor // 1))
    return int(-(-float(text) / 1048576 // 1))


def _requests(pod: dict) -> tuple[int, int]:
    """A pod's requests as the scheduler counts them: its containers summed, or its largest
    init container if that is more."""
    def total(containers):
        cpu = sum(millicores(((c.get("resources") or {}).get("requests") or {}).get("cpu")) for c in containers)
        memory = sum(mebibytes(((c.get("resources") or {}).get("requests") or {}).get("memory")) for c in containers)
        return cpu, memory
    cpu, memory = total(pod.get("containers") or ())
    for init in pod.get("initContainers") or ():
        init_cpu, init_memory = total([init])
        cpu, memory = max(cpu, init_cpu), max(memory, init_memory)
    return cpu, memory


def _self_anti_affinity(pod: dict, labels: dict) -> set[str]:
    terms = ((pod.get("affinity") or {}).get("podAntiAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or ()
    keys = set()
    for term in terms:
        match = (term.get("labelSelector") or {}).get("matchLabels") or {}
        if match and all(labels.get(k) == v for k, v in match.items()):
            keys.add(term["topologyKey"])
    return keys


def _pdb_allowed(pdbs: list[dict], labels: dict, replicas: int) -> int | None:
    for pdb in pdbs:
        match = (pdb["spec"].get("selector") or {}).get("matchLabels") or {}
        if match and all(labels.get(k) == v for k, v in match.items()):
            spec = pdb["spec"]
            if spec.get("maxUnavailable") is not None:
                return int(spec["maxUnavailable"]) if not str(spec["maxUnavailable"]).endswith("%") else \
                    replicas * int(str(spec["maxUnavailable"])[:-1]) // 100
            return max(0, replicas - int(spec.get("minAvailable") or 0))
    return None


def demand(render: ClusterRender) -> list[dict]:
    objects = [obj for _, obj in render.all_objects()]
    hpas = {o["spec"]["scaleTargetRef"]["name"]: o["spec"].get("minReplicas", 1)
            for o in objects if o["kind"] == "HorizontalPodAutoscaler"}
    pdbs = [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    workloads = []
    for obj in objects:
        if obj["kind"] not in ("Deployment", "StatefulSet", "DaemonSet"):
            continue
        template = obj["spec"]["template"]
        pod, labels = template["spec"], (template.get("metadata") or {}).get("labels") or {}
        name = f"{obj['kind']} {obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"
        replicas = hpas.get(obj["metadata"]["name"], obj["spec"].get("replicas", 1))
        cpu, memory = _requests(pod)
        spread = {c["topologyKey"]: c["maxSkew"] for c in pod.get("topologySpreadConstraints") or ()
                  if c.get("whenUnsatisfiable") == "DoNotSchedule"}
        anti = _self_anti_affinity(pod, labels)
        workloads.append({
            "name": name, "replicas": 0 if obj["kind"] == "DaemonSet" else replicas,
            "every_node": obj["kind"] == "DaemonSet", "cpu_m": cpu, "memory_mi": memory,
            "one_per_node": HOSTNAME in anti or spread.get(HOSTNAME) == 1,
            "one_per_zone": ZONE in anti,
            "pdb_allows": None if obj["kind"] == "DaemonSet" else _pdb_allowed(pdbs, labels, replicas),
        })
    for release in render.releases:
        if render.rendered[release.name] is None:  # chart not obtainable: what its values ask for
            requests = (release.values.get("resources") or {}).get("requests") or {}
            workloads.append({"name": f"{release.chart} manager (from its HelmRelease values; chart not rendered)",
                              "replicas": 1, "every_node": False, "cpu_m": millicores(requests.get("cpu")),
                              "memory_mi": mebibytes(requests.get("memory")), "one_per_node": False,
                              "one_per_zone": False, "pdb_allows": None})
    return sorted(workloads, key=lambda w: w["name"])


def demand_by_role(renders) -> dict[str, list[dict]]:
    return {render.cluster.role: demand(render) for render in renders}


def main(argv: list[str] | None = None) -> int:
    from vault_platform.config.load import load_environment
    from vault_platform.rendering.releases import render_environment

    result = demand_by_role(render_environment(load_environment("default")))
    text = json.dumps(result, indent=1, sort_keys=True) + "\n"
    if "--write" in (argv if argv is not None else sys.argv[1:]):
        DEMAND_FILE.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
