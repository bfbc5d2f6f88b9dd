"""Run the bootstrap Jobs as Flux renders them, their scripts unmodified, against the lab.

The Kustomization ``vault-config`` is built and substituted as Flux does
(``flux_tree.rendered``: kubectl kustomize, then post-build substitution with the lab's
platform-vars). Everything a Job gets comes from that output: the rendered Job's command, each
environment variable, each volume; a mounted ConfigMap is a directory holding exactly the
rendered ConfigMap's data (what the kubelet projects). Only what points into a cluster is
moved to the lab:

- the ``vault-server-tls`` Secret's ``ca.crt`` is the lab's CA;
- ``VAULT_ADDR`` stays the manifest's URL: the Job's process resolves the cluster's names to
  the lab's nodes (``resolver/sitecustomize.py``, ``VaultLab.cluster_dns``), so its own TLS
  library checks the lab certificate (certificate.yaml's names) for the manifest's host name;
- the service account (``KUBE_SERVICE_ACCOUNT_DIR``) and the API server (``KUBE_API_URL``)
  are the stand-in's: the only two settings the scripts read that a pod sets by its mount,
  and the audit file (``VAULT_AUDIT_FILE``), on the pod's audit volume.

The API server's typing is kept: an env value that Flux's substitution turned into a number
or a boolean is refused, as the API server refuses the Job.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from vault_platform.vaultlab.cluster import LabError, VaultLab
from vault_platform.vaultlab.flux_tree import RenderedTypeError, config_map_files, one, rendered, string_env

NAMESPACE = "vault"
KUSTOMIZATION = "vault-config"
JOB_TIMEOUT_SECONDS = 180.0
RESOLVER_DIR = Path(__file__).resolve().parent / "resolver"


@dataclass(frozen=True)
class JobSpec:
    """What a rendered Job says about its one container."""

    name: str
    service_account: str
    command: tuple[str, ...]
    env: dict[str, str]
    mounts: dict[str, str]  # mountPath -> volume name
    volumes: dict[str, dict]  # volume name -> volume source

    @classmethod
    def from_manifest(cls, manifest: dict) -> JobSpec:
        """A Job, or a CronJob's job template (the snapshot job: cronjob-snapshot.yaml)."""
        job_spec = manifest["spec"]["jobTemplate"]["spec"] if manifest["kind"] == "CronJob" else manifest["spec"]
        pod = job_spec["template"]["spec"]
        (container,) = pod["containers"]
        name = manifest["metadata"]["name"]
        try:
            env = string_env(container, f"Job {name}")
        except RenderedTypeError as err:
            raise LabError(str(err)) from None
        return cls(
            name=name,
            service_account=pod["serviceAccountName"],
            command=tuple(container["command"]),
            env=env,
            mounts={m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])},
            volumes={v["name"]: v for v in pod.get("volumes", [])},
        )


@dataclass
class JobRunner:
    """``flux_values``: the platform-vars the Kustomization is substituted with (the lab's
    ``platform_vars()`` and the database's address)."""

    lab: VaultLab
    flux_values: dict[str, str]
    _objects: list[dict] | None = field(default=None, init=False, repr=False)

    def objects(self) -> list[dict]:
        """The Kustomization's objects as Flux applies them (rendered once per runner)."""
        if self._objects is None:
            objects = rendered(KUSTOMIZATION, self.flux_values)
            # The API server validates every object Flux applies before any is applied: one
            # Job it refuses means neither Job runs.
            for job in (o for o in objects if o.get("kind") in ("Job", "CronJob")):
                JobSpec.from_manifest(job)
            self._objects = objects
        return self._objects

    def spec(self, job: str) -> JobSpec:
        """Job ``vault-<job>``, or else CronJob ``vault-<job>`` (whose Jobs the lab runs once)."""
        objects = self.objects()
        kind = "Job" if any(o.get("kind") == "Job" and o["metadata"]["name"] == f"vault-{job}" for o in objects) else "CronJob"
        return JobSpec.from_manifest(one(objects, kind, f"vault-{job}"))

    def _mount_dirs(self, spec: JobSpec) -> dict[str, Path]:
        local: dict[str, Path] = {}
        for mount, volume_name in spec.mounts.items():
            volume = spec.volumes[volume_name]
            target = self.lab.root / f"{spec.name}-{volume_name}"  # type: ignore[operator]
            target.mkdir(exist_ok=True)
            if "configMap" in volume:
                # Exactly the rendered ConfigMap's keys (its hashed name is the Job's reference).
                config_map_files(self.objects(), volume["configMap"]["name"], target)
            elif volume.get("secret", {}).get("secretName") == self.lab.release.tls_secret:
                # Only the items the manifest projects (ca.crt), never the server's key.
                for item in volume["secret"]["items"]:
                    (target / item["path"]).write_bytes((self.lab.tls.directory / item["key"]).read_bytes())  # type: ignore[union-attr]
            elif "emptyDir" in volume:
                pass  # an empty directory, as the pod gets it
            else:
                raise LabError(f"Job {spec.name}: volume {volume_name} has no lab equivalent")
            local[mount] = target
        return local

    def environment(self, job: str, mounts_instead: dict[str, Path] | None = None) -> tuple[JobSpec, dict[str, str], list[str]]:
        """``mounts_instead``: a directory to mount at a path instead of the rendered one (a
        test's edited copy of policies/ or config/)."""
        spec = self.spec(job)
        mounts = {**self._mount_dirs(spec), **(mounts_instead or {})}
        env: dict[str, str] = {}
        for name, value in spec.env.items():
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
            # The cluster's DNS for this process (resolver/sitecustomize.py).
            "PYTHONPATH": str(RESOLVER_DIR),
            "VAULTLAB_RESOLVE": json.dumps(self.lab.cluster_dns()),
        })
        program, *args = spec.command
        if program != "python":
            raise LabError(f"Job {spec.name}: command {spec.command} is not `python <script>`")
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
