"""The Vault server configuration the lab runs: the HelmRelease's own raft HCL, moved to a laptop.

``lab_server_config`` is the one place where the lab differs from a pod. It substitutes, and
refuses to start when any substitution finds nothing to substitute (so an edit of the
HelmRelease that moves one of these settings fails loudly instead of running a stale copy):

- the listener's ``address`` and ``cluster_address`` (``[::]:8200``/``8201`` in the pod)
  become 127.0.0.1 and the node's free ports;
- the TLS files under the mounted Secret (``/vault/userconfig/<secret>/``) become the lab's
  throwaway CA and certificate (listener and retry_join's ``leader_ca_cert_file``);
- raft's ``path`` becomes the node's own temporary directory;
- each ``retry_join`` ``leader_api_addr`` (``https://vault-<i>.vault-internal:8200``) keeps
  its host name, with node i's lab port (each node's /etc/hosts, in its own mount namespace,
  points the pod names at 127.0.0.1: ``cluster.MOUNT_POD_SERVICE_ACCOUNT``), so Go's TLS in the
  joining node checks the certificate for that name;
- Flux's ``${VAR}`` substitutions (the seal's region and key id) get the lab's values, and
  the awskms seal gains ``endpoint``, the project's emulator (moto) KMS;
- ``service_registration "kubernetes"`` is removed: there is no Kubernetes API to label pods in;
- two settings OpenBao needs where HashiCorp Vault allows the same by default (README,
  "OpenBao stands in for Vault"): ``unsafe_allow_api_audit_creation`` (the configure Job
  enables the audit device through the API) and, in the listener,
  ``disable_unauthed_generate_root_endpoints = false`` (the recovery path's generate-root);
- ``disable_standby_reads = true``: since 2.5, OpenBao's standbys answer reads from their own
  copy of raft ("horizontal read scalability", on by default), a raft snapshot included,
  where HashiCorp Vault 1.19 (what the pods run; performance standbys are Enterprise) forwards
  every request to the active node and redirects a snapshot with a 307. Without it the lab's
  standbys served snapshots and possibly stale reads that production's never do.

What the chart adds outside the HCL (``VAULT_API_ADDR``, ``VAULT_CLUSTER_ADDR``,
``VAULT_RAFT_NODE_ID`` from ``setNodeId``) is set in the node's environment, as the chart does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vault_platform.ops.emulator import HOST
from vault_platform.gitops.vault_checks import HELMRELEASE, PEER_ADDRESS

# The chart mounts every server.extraVolumes Secret at /vault/userconfig/<name>.
USERCONFIG_DIR = "/vault/userconfig"
FLUX_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)\}")


class LabConfigError(ValueError):
    """The HelmRelease's raft HCL lacks something the lab must substitute; one line, with the fix."""


@dataclass(frozen=True)
class NodePorts:
    api: int
    cluster: int

    @property
    def api_addr(self) -> str:
        return f"https://{HOST}:{self.api}"

    @property
    def cluster_addr(self) -> str:
        return f"https://{HOST}:{self.cluster}"


@dataclass(frozen=True)
class LabSite:
    """What a laptop has instead of a pod: ports, directories, the emulator's KMS key."""

    root: Path
    nodes: tuple[NodePorts, ...]
    kms_endpoint: str
    region: str
    kms_key_id: str

    @property
    def tls_dir(self) -> Path:
        return self.root / "tls"

    def data_dir(self, node: int) -> Path:
        return self.root / f"raft-{node}"


@dataclass(frozen=True)
class VaultRelease:
    """The parts of the HelmRelease the lab reads."""

    raft_config: str
    replicas: int
    tls_secret: str
    readiness_path: str
    values: dict[str, Any]
    source: Path

    @property
    def tls_mount(self) -> str:
        return f"{USERCONFIG_DIR}/{self.tls_secret}/"


def load_release(path: Path = HELMRELEASE) -> VaultRelease:
    values = yaml.safe_load(path.read_text())["spec"]["values"]
    server = values["server"]
    secrets = [v["name"] for v in server.get("extraVolumes", []) if v.get("type") == "secret"]
    if len(secrets) != 1:
        raise LabConfigError(f"{path.name}: server.extraVolumes has {len(secrets)} Secret volumes, the lab "
                             "expects exactly one (the listener's TLS Secret)")
    return VaultRelease(
        raft_config=server["ha"]["raft"]["config"],
        replicas=int(server["ha"]["replicas"]),
        tls_secret=secrets[0],
        readiness_path=server["readinessProbe"]["path"],
        values=values,
        source=path,
    )


def _substitute(hcl: str, what: str, pattern: str, replacement: Any, *, count: int | None = None,
                flags: int = 0) -> str:
    result, found = re.subn(pattern, replacement, hcl, flags=flags)
    if found == 0 or (count is not None and found != count):
        expected = "at least one" if count is None else str(count)
        raise LabConfigError(f"helmrelease.yaml server.ha.raft.config: expected {expected} {what}, found {found}; "
                             "update vault_platform/vaultlab/raft_config.py with the HelmRelease")
    return result


def lab_server_config(release: VaultRelease, node: int, site: LabSite) -> str:
    """The HelmRelease's raft HCL for lab node ``node`` (see the module docstring for every change)."""
    ports = site.nodes[node]
    hcl = release.raft_config
    hcl = _substitute(hcl, "listener `address`", r'(\baddress\s*=\s*)"[^"]*"',
                      rf'\g<1>"{HOST}:{ports.api}"', count=1)
    hcl = _substitute(hcl, "listener `cluster_address`", r'(\bcluster_address\s*=\s*)"[^"]*"',
                      rf'\g<1>"{HOST}:{ports.cluster}"', count=1)
    hcl = _substitute(hcl, f"file under {release.tls_mount}", re.escape(release.tls_mount),
                      lambda _: f"{site.tls_dir.as_posix()}/")
    hcl = _substitute(hcl, "raft `path`", r'(\bpath\s*=\s*)"[^"]*"',
                      rf'\g<1>"{site.data_dir(node).as_posix()}"', count=1)

    def peer(match: re.Match[str]) -> str:
        index = int(match.group(1))
        if index >= len(site.nodes):
            raise LabConfigError(f"helmrelease.yaml server.ha.raft.config: retry_join names vault-{index}, but "
                                 f"the lab starts {len(site.nodes)} nodes (server.ha.replicas)")
        return f"https://vault-{index}.vault-internal:{site.nodes[index].api}"

    hcl = _substitute(hcl, "retry_join leader_api_addr https://vault-<i>.vault-internal:8200",
                      PEER_ADDRESS.pattern, peer)
    lab_variables = {"AWS_REGION": site.region, "VAULT_KMS_KEY_ID": site.kms_key_id}

    def variable(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in lab_variables:
            raise LabConfigError(f"helmrelease.yaml server.ha.raft.config: ${{{name}}} has no lab value; "
                                 "add it to lab_variables in vault_platform/vaultlab/raft_config.py")
        return lab_variables[name]

    hcl = _substitute(hcl, "Flux ${VAR} in the seal", FLUX_VARIABLE.pattern, variable)
    hcl = _substitute(hcl, 'seal "awskms" block', r'(\bseal\s+"awskms"\s*\{)',
                      rf'\g<1>\n  endpoint = "{site.kms_endpoint}"', count=1)
    hcl = _substitute(hcl, 'service_registration "kubernetes" block',
                      r'\bservice_registration\s+"kubernetes"\s*\{[^}]*\}', "", count=1)
    hcl = _substitute(hcl, 'listener "tcp" block', r'(\blistener\s+"tcp"\s*\{)',
                      r"\g<1>\n  disable_unauthed_generate_root_endpoints = false", count=1)
    return hcl + (
        "\n# OpenBao only (HashiCorp Vault allows this by default):\nunsafe_allow_api_audit_creation = true\n"
        "# OpenBao only (HashiCorp Vault has no standby reads: its standbys forward every request):\n"
        "disable_standby_reads = true\n")


def chart_environment(node: int, site: LabSite) -> dict[str, str]:
    """What chart 0.30.0 sets in the server pod's environment, with lab values (both spellings:
    OpenBao reads BAO_*, and VAULT_* where it kept them)."""
    ports = site.nodes[node]
    values = {
        "API_ADDR": ports.api_addr,
        "CLUSTER_ADDR": ports.cluster_addr,
        "RAFT_NODE_ID": f"vault-{node}",
        "CACERT": (site.tls_dir / "ca.crt").as_posix(),
    }
    env = {}
    for key, value in values.items():
        env[f"VAULT_{key}"] = value
        env[f"BAO_{key}"] = value
    return env
