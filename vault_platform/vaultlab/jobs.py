"""Run the bootstrap Jobs' scripts, unmodified, as the Job manifests run them, against the lab.

Everything a Job gets comes from its manifest (``job-init.yaml``, ``job-configure.yaml``) and
the kustomization that generates its ConfigMaps: the command, each environment variable, each
volume. Only what points into a cluster is moved to the lab:

- a mounted ConfigMap (``/scripts``, ``/policies``, ``/config``) is a directory holding the
  files kustomization.yaml generates it from; the ``vault-server-tls`` Secret's ``ca.crt`` is
  the lab's CA;
- ``VAULT_ADDR``: ``vault-<i>.vault-internal`` is lab node i, ``vault-active.vault.svc`` the
  node that answers 200 on /v1/sys/health (what the Service selects);
- Flux's ``${VAR}`` values come from ``flux_values`` (an unknown one stops the run);
- the service account (``KUBE_SERVICE_ACCOUNT_DIR``) and the API server (``KUBE_API_URL``)
  are the stand-in's: the only two settings the scripts read that a pod sets by its mount,
  and the audit file (``VAULT_AUDIT_FILE``), on the pod's audit volume.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from vault_platform.gitops.vault_checks import PEER_ADDRESS, VAULT_CONFIG_DIR
from vault_platform.vaultlab.cluster import LabError, VaultLab
from vault_platform.vaultlab.raft_config import FLUX_VARIABLE

NAMESPACE = "vault"
ACTIVE_SERVICE = "https://vault-active.vault.svc:8200"
JOB_TIMEOUT_SECONDS = 180.0


@dataclass(frozen=True)
class JobSpec:
    """What a Job manifest says about its one container."""

    name: str
    service_account: str
    command: tuple[str, ...]
    env: dict[str, str]
    mounts: dict[str, str]  # mountPath -> volume name
    volumes: dict[str, dict]  # volume name -> volume source

    @classmethod
    def load(cls, job: str) -> JobSpec:
        path = VAULT_CONFIG_DIR / f"job-{job}.yaml"
        if not path.exists():  # a CronJob's Job: the snapshot job (cronjob-snapshot.yaml)
            path = VAULT_CONFIG_DIR / f"cronjob-{job}.yaml"
        manifest = yaml.safe_load(path.read_text())
        job_spec = manifest["spec"]["jobTemplate"]["spec"] if manifest["kind"] == "CronJob" else manifest["spec"]
        pod = job_spec["template"]["spec"]
        (container,) = pod["containers"]
        return cls(
            name=manifest["metadata"]["name"],
            service_account=pod["serviceAccountName"],
            command=tuple(container["command"]),
            env={e["name"]: str(e["value"]) for e in container.get("env", [])},
            mounts={m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])},
            volumes={v["name"]: v for v in pod.get("volumes", [])},
        )


def _config_map_files() -> dict[str, list[Path]]:
    """Generated ConfigMap name -> the repository files kustomization.yaml puts in it."""
    kustomization = yaml.safe_load((VAULT_CONFIG_DIR / "kustomization.yaml").read_text())
    return {generator["name"]: [VAULT_CONFIG_DIR / f for f in generator["files"]]
            for generator in kustomization["configMapGenerator"]}


@dataclass
class JobRunner:
    lab: VaultLab
    flux_values: dict[str, str]

    def _mount_dirs(self, spec: JobSpec) -> dict[str, Path]:
        config_maps = _config_map_files()
        local: dict[str, Path] = {}
        for mount, volume_name in spec.mounts.items():
            volume = spec.volumes[volume_name]
            if "configMap" in volume:
                # Exactly the files the generated ConfigMap holds: one left out of the
                # kustomization is missing here as in the pod.
                target = self.lab.root / f"{spec.name}-{volume_name}"  # type: ignore[operator]
                target.mkdir(exist_ok=True)
                for source in config_maps[volume["configMap"]["name"]]:
                    shutil.copyfile(source, target / source.name)
                local[mount] = target
            elif volume.get("secret", {}).get("secretName") == self.lab.release.tls_secret:
                # Only the items the manifest projects (ca.crt), never the server's key.
                target = self.lab.root / f"{spec.name}-{volume_name}"  # type: ignore[operator]
                target.mkdir(exist_ok=True)
                for item in volume["secret"]["items"]:
                    (target / item["path"]).write_bytes((self.lab.tls.directory / item["key"]).read_bytes())  # type: ignore[union-attr]
                local[mount] = target
            elif "emptyDir" in volume:
                target = self.lab.root / f"{spec.name}-{volume_name}"  # type: ignore[operator]
                target.mkdir(exist_ok=True)
                local[mount] = target
            else:
                raise LabError(f"job-{spec.name}.yaml: volume {volume_name} has no lab equivalent")
        return local

    def _vault_addr(self, value: str) -> str:
        peer = PEER_ADDRESS.fullmatch(value)
        if peer:
            return self.lab.nodes[int(peer.group(1))].ports.api_addr
        if value == ACTIVE_SERVICE:
            return self.lab.active_node().ports.api_addr
        raise LabError(f"VAULT_ADDR {value} has no lab equivalent")

    def environment(self, job: str, mounts_instead: dict[str, Path] | None = None) -> tuple[JobSpec, dict[str, str], list[str]]:
        """``mounts_instead``: a directory to mount at a path instead of the repository's (a test's
        edited copy of policies/ or config/)."""
        spec = JobSpec.load(job)
        mounts = {**self._mount_dirs(spec), **(mounts_instead or {})}
        env: dict[str, str] = {}
        for name, value in spec.env.items():
            def flux(match: re.Match[str]) -> str:
                if match.group(1) not in self.flux_values:
                    raise LabError(f"job-{job}.yaml env {name}: ${{{match.group(1)}}} has no lab value")
                return self.flux_values[match.group(1)]

            value = FLUX_VARIABLE.sub(flux, value)
            if name == "VAULT_ADDR":
                value = self._vault_addr(value)
            for mount, local in mounts.items():
                if value == mount or value.startswith(mount + "/"):
                    value = str(local) + value[len(mount):]
            env[name] = value
        assert self.lab.root is not None and self.lab.kube is not None
        account_dir = self.lab.kube.write_service_account_dir(
            self.lab.root / f"sa-{spec.service_account}", NAMESPACE, spec.service_account)
        env.update({
            "KUBE_SERVICE_ACCOUNT_DIR": str(account_dir),
            "KUBE_API_URL": self.lab.kube.url,
            "VAULT_AUDIT_FILE": str(self.lab.root / "audit.log"),
            "PATH": "/usr/bin:/bin",
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        program, *args = spec.command
        if program != "python":
            raise LabError(f"job-{job}.yaml: command {spec.command} is not `python <script>`")
        argv = [sys.executable, *[self._local_path(a, mounts) for a in args]]
        return spec, env, argv

    @staticmethod
    def _local_path(value: str, mounts: dict[str, Path]) -> str:
        for mount, local in mounts.items():
            if value.startswith(mount + "/"):
                return str(local) + value[len(mount):]
        return value

    def start(self, job: str, mounts_instead: dict[str, Path] | None = None) -> subprocess.Popen[str]:
        """Start the Job's container command; the caller waits (or kills it mid-run)."""
        _spec, env, argv = self.environment(job, mounts_instead)
        return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)

    def run(self, job: str, timeout: float = JOB_TIMEOUT_SECONDS,
            mounts_instead: dict[str, Path] | None = None,
            injected_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run the Job once to its end, as one attempt of the Job's pod. ``injected_env``: what
        the cluster adds to the pod beyond its manifest (the EKS pod identity webhook's
        AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE, AWS_REGION; the lab's emulator endpoint)."""
        _spec, env, argv = self.environment(job, mounts_instead)
        env.update(injected_env or {})
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
