"""Can each cluster run what its Flux tree and platform stack install, at the node groups'
minimum size, and can one node be drained without breaking a PodDisruptionBudget?

The workloads' demand comes from the rendered charts (``workload_demand.json``, written by
vault_platform/rendering/demand.py and held equal to the renders by a test); the capacity
from the environment's node groups and the instance table below. Checked before any stack is
built (app.add_environment): an environment that cannot run its workloads is refused with one
line naming the workload, the constraint and the fix.

The model: a node group at ``min_size`` spreads its nodes over the environment's zones
round-robin (the Auto Scaling group balances across its subnets, one per zone); each pod
goes where the scheduler could put it, most constrained first. Required anti-affinity to its
own pods by hostname or zone means one per node or zone. Not counted: EKS add-ons whose
requests we do not know from a chart (the CSI drivers), Jobs (they finish), limits.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

from vault_platform.cluster_roles import APPLICATION, TOOLING
from vault_platform.config.model import ClusterConfig, EnvironmentConfig
from vault_platform.errors import ConfigError

DEMAND_FILE = Path(__file__).resolve().parent / "workload_demand.json"


@dataclass(frozen=True)
class InstanceCapacity:
    """What the kubelet of an EKS node of this type offers pods (AL2023 EKS AMI defaults)."""

    vcpus: int
    memory_mib: int
    max_pods: int  # VPC CNI without prefix delegation: ENIs x (IPv4 per ENI - 1) + 2

    @property
    def allocatable_cpu_m(self) -> int:
        # kube-reserved CPU: 6% of the first core, 1% of the second, 0.5% of cores 3-4, 0.25% above.
        shares = [60, 10, 5, 5] + [2.5] * max(0, self.vcpus - 4)
        return self.vcpus * 1000 - int(sum(shares[: self.vcpus]))

    @property
    def allocatable_memory_mi(self) -> int:
        # kube-reserved memory 255 MiB + 11 MiB per pod, and the 100 MiB hard eviction threshold.
        return self.memory_mib - (255 + 11 * self.max_pods) - 100


# Instance types the environments ship, as of 2026-12-05. vCPUs and memory: the EC2 general
# purpose instance table (docs.aws.amazon.com/ec2/latest/instancetypes/gp.html); max pods:
# eni-max-pods.txt of amazon-vpc-cni-k8s (m6i.large: 3 ENIs x 10 IPv4 -> 29); reservations:
# the EKS AMI's kubelet defaults (awslabs/amazon-eks-ami, kube-reserved by pods and cores).
INSTANCE_TYPES: dict[str, InstanceCapacity] = {
    "m6i.large": InstanceCapacity(vcpus=2, memory_mib=8192, max_pods=29),
    "m6i.xlarge": InstanceCapacity(vcpus=4, memory_mib=16384, max_pods=58),
}

# EKS-managed add-ons every cluster runs, with their default requests (not rendered here).
EKS_PER_NODE = {"aws-node (VPC CNI)": (25, 0), "kube-proxy": (100, 0)}
EKS_DEPLOYMENTS = {"coredns": (2, 100, 70)}  # replicas, cpu m, memory Mi


@dataclass
class _Node:
    zone: int
    cpu: int
    memory: int
    pods: int
    hosts: list[str] = field(default_factory=list)


@functools.lru_cache(maxsize=1)
def demand() -> dict[str, tuple[dict, ...]]:
    return {role: tuple(items) for role, items in json.loads(DEMAND_FILE.read_text()).items()}


def _workloads(role: str) -> list[dict]:
    items = list(demand()[role])
    items += [{"name": f"Deployment kube-system/{name} (EKS add-on)", "replicas": replicas, "every_node": False,
               "cpu_m": cpu, "memory_mi": memory, "one_per_node": False, "one_per_zone": False, "pdb_allows": None}
              for name, (replicas, cpu, memory) in EKS_DEPLOYMENTS.items()]
    return items


def _nodes(field_name: str, cluster: ClusterConfig, zones: int, workloads: list[dict]) -> list[_Node]:
    nodes = []
    per_node_cpu = sum(cpu for cpu, _ in EKS_PER_NODE.values()) + sum(w["cpu_m"] for w in workloads if w["every_node"])
    per_node_memory = sum(m for _, m in EKS_PER_NODE.values()) + sum(w["memory_mi"] for w in workloads if w["every_node"])
    per_node_pods = len(EKS_PER_NODE) + sum(1 for w in workloads if w["every_node"])
    for index, group in enumerate(cluster.node_groups):
        known = [INSTANCE_TYPES[t] for t in group.instance_types if t in INSTANCE_TYPES]
        if len(known) != len(group.instance_types):
            unknown = [t for t in group.instance_types if t not in INSTANCE_TYPES]
            raise ConfigError(f"{field_name}.node_groups[{index}].instance_types", unknown[0],
                              "has no capacity row in vault_platform/gitops/scheduling.py INSTANCE_TYPES",
                              "add its vCPUs, memory and max pods (with the AWS source), or use a type listed there")
        smallest = min(known, key=lambda c: (c.allocatable_cpu_m, c.allocatable_memory_mi))
        for _ in range(group.min_size):
            nodes.append(_Node(len(nodes) % zones, smallest.allocatable_cpu_m - per_node_cpu,
                               smallest.allocatable_memory_mi - per_node_memory, smallest.max_pods - per_node_pods))
    return nodes


def _fits(node: _Node, workload: dict, nodes: list[_Node]) -> bool:
    if node.cpu < workload["cpu_m"] or node.memory < workload["memory_mi"] or node.pods < 1:
        return False
    if workload["one_per_node"] and workload["name"] in node.hosts:
        return False
    if workload["one_per_zone"] and any(workload["name"] in n.hosts for n in nodes if n.zone == node.zone):
        return False
    return True


def _place(workload: dict, nodes: list[_Node]) -> bool:
    candidates = [node for node in nodes if _fits(node, workload, nodes)]
    if not candidates:
        return False
    node = max(candidates, key=lambda n: (n.cpu, n.memory))  # the scheduler's least-allocated spread
    node.cpu -= workload["cpu_m"]
    node.memory -= workload["memory_mi"]
    node.pods -= 1
    node.hosts.append(workload["name"])
    return True


def _order(workloads: list[dict]) -> list[dict]:
    pods = [w for w in workloads if not w["every_node"] for _ in range(w["replicas"])]
    return sorted(pods, key=lambda w: (not w["one_per_zone"], not w["one_per_node"], -w["cpu_m"], -w["memory_mi"], w["name"]))


def _constraint(workload: dict) -> str:
    rules = [rule for rule, on in (("one per zone", workload["one_per_zone"]), ("one per node", workload["one_per_node"])) if on]
    return f"{workload['replicas']} replicas, {workload['cpu_m']}m CPU and {workload['memory_mi']}Mi each" + \
        (f", {' and '.join(rules)} (required anti-affinity)" if rules else "")


def check_cluster(field_name: str, role: str, cluster: ClusterConfig, zone_count: int) -> None:
    workloads = _workloads(role)
    size = sum(group.min_size for group in cluster.node_groups)
    zones = max(1, min(zone_count, size))
    nodes = _nodes(field_name, cluster, zones, workloads)
    where = f"min_size {size} ({size} nodes in {zones} zones)"
    for node in nodes:
        if node.cpu < 0 or node.memory < 0:
            raise ConfigError(f"{field_name}.node_groups", where, "leaves no room after the per-node add-ons",
                              "use a larger instance type")
    for pod in _order(workloads):
        if not _place(pod, nodes):
            zones_needed = pod["one_per_zone"] and pod["replicas"] > zones
            raise ConfigError(
                f"{field_name}.node_groups", where,
                f"cannot schedule {pod['name']} ({_constraint(pod)})",
                f"set min_size to at least {pod['replicas']} with availability_zone_count >= {pod['replicas']}" if zones_needed
                else f"raise min_size to at least {max(size + 1, pod['replicas'])}" if pod["one_per_node"]
                else "raise min_size or use a larger instance type")
    # Drain each node in turn: its pods go elsewhere, or wait; the wait must stay within the PDB.
    for drained in range(len(nodes)):
        remaining = [_Node(n.zone, n.cpu, n.memory, n.pods, list(n.hosts)) for i, n in enumerate(nodes) if i != drained]
        stranded: dict[str, int] = {}
        for name in nodes[drained].hosts:
            workload = next(w for w in workloads if w["name"] == name)
            if not _place(workload, remaining):
                stranded[name] = stranded.get(name, 0) + 1
        for name, count in stranded.items():
            workload = next(w for w in workloads if w["name"] == name)
            allowed = workload["pdb_allows"]
            if allowed is not None and count > allowed:
                raise ConfigError(
                    f"{field_name}.node_groups", where,
                    f"draining one node strands {count} pods of {name} that fit nowhere else, more than its "
                    f"PodDisruptionBudget allows ({allowed})", "raise min_size by one, so a drained node's pods have room")


def check_schedulable(env: EnvironmentConfig) -> None:
    """Every cluster of ``env`` runs its workloads at minimum size; ConfigError if one cannot."""
    check_cluster("tooling.cluster", TOOLING, env.tooling.cluster, env.availability_zone_count)
    from vault_platform.config.validate import application_fields  # the field names its errors use

    for field_name, application in application_fields(env):
        check_cluster(f"{field_name}.cluster", APPLICATION, application.cluster, env.availability_zone_count)
