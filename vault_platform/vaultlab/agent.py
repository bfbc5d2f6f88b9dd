"""The Vault Agent configuration the injector builds from a Deployment's annotations, and a
real agent (`bao agent`) run with it.

The injector (vault-k8s, chart 0.30.0) turns ``vault.hashicorp.com/*`` annotations into an
agent config (agent-inject/agent/config.go upstream): auto_auth with the ``kubernetes``
method at the auth path (annotation ``auth-path``, else the injector's ``authPath`` value)
and the ``role``, reading the pod's service-account token; a file sink for the agent's
token; the server address and ``ca-cert``; one template per ``agent-inject-secret-<name>``,
rendered to ``/vault/secrets/<name>`` from ``agent-inject-template-<name>`` (or the injector's
default ``key: value`` lines when absent); ``exit_on_retry_failure``. ``agent_spec_from_annotations``
reads what the demo Deployment sets, as Flux renders the application cluster's ``demo`` and
``vault-injector`` Kustomizations (``flux_tree``), and refuses what it does not model, so editing
the annotations changes what the tests run. Paths inside the pod are moved to the lab by one
function, ``relocated``, which fails on any path it has no place for.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from vault_platform.ops.emulator import stop_process_group
from vault_platform.gitops.platform_vars import vault_kubernetes_mount
from vault_platform.vaultlab.cluster import APPLICATION_CLUSTER, bao_binary
from vault_platform.vaultlab.flux_tree import default_platform_vars, one, rendered

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_DEPLOYMENT = REPO_ROOT / "flux" / "apps" / "demo" / "deployment-app.yaml"
INJECTOR_RELEASE = REPO_ROOT / "flux" / "infrastructure" / "vault-injector" / "helmrelease.yaml"
PREFIX = "vault.hashicorp.com/"
SECRETS_DIR = PurePosixPath("/vault/secrets")
SERVICE_ACCOUNT_DIR = PurePosixPath("/var/run/secrets/kubernetes.io/serviceaccount")
AGENT_HOME = PurePosixPath("/home/vault")
# Annotations that only shape the pod (not the agent's configuration), and so are not modelled.
POD_ONLY = {"agent-inject", "agent-copy-volume-mounts"}


class AgentSpecError(ValueError):
    """An annotation the lab does not model; one line naming the file, the annotation and the fix."""


@dataclass(frozen=True)
class InjectedSecret:
    name: str
    vault_path: str
    template: str | None

    @property
    def destination(self) -> PurePosixPath:
        return SECRETS_DIR / self.name


@dataclass(frozen=True)
class AgentSpec:
    role: str
    auth_path: str
    ca_cert: PurePosixPath
    secrets: tuple[InjectedSecret, ...]


def lab_application_vars() -> dict[str, str]:
    """The application cluster's synthesized platform-vars (stand-ins named), for the lab's one
    application cluster (its Kubernetes auth mount)."""
    return {**default_platform_vars("application"),
            "VAULT_KUBERNETES_MOUNT": vault_kubernetes_mount(APPLICATION_CLUSTER)}


def agent_spec_from_annotations(annotations: Mapping[str, str], injector_auth_path: str,
                                source: str = "deployment") -> AgentSpec:
    ours = {key[len(PREFIX):]: value for key, value in annotations.items() if key.startswith(PREFIX)}
    if ours.get("agent-inject") != "true":
        raise AgentSpecError(f"{source}: {PREFIX}agent-inject is not \"true\": the injector would add no agent")
    secrets = tuple(
        InjectedSecret(name=key[len("agent-inject-secret-"):], vault_path=value,
                       template=ours.get(f"agent-inject-template-{key[len('agent-inject-secret-'):]}"))
        for key, value in sorted(ours.items()) if key.startswith("agent-inject-secret-"))
    modelled = POD_ONLY | {"role", "auth-path", "ca-cert"} | {
        f"agent-inject-{kind}-{s.name}" for s in secrets for kind in ("secret", "template")}
    for key in sorted(set(ours) - modelled):
        raise AgentSpecError(f"{source}: annotation {PREFIX}{key} is not modelled by the lab's agent "
                             "config (vault_platform/vaultlab/agent.py): add it there")
    if "role" not in ours:
        raise AgentSpecError(f"{source}: {PREFIX}role is missing: the agent cannot log in without it")
    return AgentSpec(role=ours["role"], auth_path=ours.get("auth-path", injector_auth_path),
                     ca_cert=PurePosixPath(ours.get("ca-cert", "")), secrets=secrets)


def demo_agent_spec(platform_vars: Mapping[str, str] | None = None) -> AgentSpec:
    """From the demo Deployment's annotations and the injector's authPath, as Flux renders them."""
    variables = platform_vars if platform_vars is not None else lab_application_vars()
    deployment = one(rendered("demo", variables, "application"), "Deployment", "demo-app")
    injector = one(rendered("vault-injector", variables, "application"), "HelmRelease", "vault-injector")
    auth_path = str(injector["spec"]["values"].get("injector", {}).get("authPath", "auth/kubernetes"))
    return agent_spec_from_annotations(deployment["spec"]["template"]["metadata"]["annotations"], auth_path,
                                       str(DEMO_DEPLOYMENT.relative_to(REPO_ROOT)))


def relocated(path: PurePosixPath, places: Mapping[PurePosixPath, Path]) -> Path:
    """A pod path moved under the lab directory that stands for its pod directory."""
    for pod_dir, lab_dir in places.items():
        if path == pod_dir or pod_dir in path.parents:
            return lab_dir / path.relative_to(pod_dir)
    raise AgentSpecError(f"{path}: no lab directory stands for it (known: {', '.join(map(str, places))})")


def agent_config(spec: AgentSpec, vault_addr: str, places: Mapping[PurePosixPath, Path]) -> dict[str, Any]:
    """The agent's configuration as the injector writes it, with pod paths moved by ``places``."""
    return {
        "pid_file": str(relocated(AGENT_HOME / ".pid", places)),
        "exit_after_auth": False,
        "vault": {"address": vault_addr, "ca_cert": str(relocated(spec.ca_cert, places))},
        "auto_auth": {
            "method": [{"type": "kubernetes", "mount_path": spec.auth_path,
                        "config": {"role": spec.role,
                                   "token_path": str(relocated(SERVICE_ACCOUNT_DIR / "token", places))}}],
            "sink": [{"type": "file", "config": {"path": str(relocated(AGENT_HOME / ".vault-token", places))}}],
        },
        "template_config": {"exit_on_retry_failure": True},
        "template": [
            {"destination": str(relocated(secret.destination, places)),
             # The injector's default template when none is annotated: one `key: value` line per datum.
             "contents": secret.template or (f'{{{{ with secret "{secret.vault_path}" }}}}'
                                             "{{ range $k, $v := .Data }}{{ $k }}: {{ $v }}\n{{ end }}{{ end }}"),
             "left_delimiter": "{{", "right_delimiter": "}}"}
            for secret in spec.secrets
        ],
    }


@contextlib.contextmanager
def running_agent(config: dict[str, Any]) -> Iterator[subprocess.Popen[bytes]]:
    """`bao agent` with ``config``; stopped when the context ends, on failure too."""
    workdir = Path(tempfile.mkdtemp(prefix="vaultlab-agent-"))
    config_file = workdir / "agent.json"
    config_file.write_text(json.dumps(config, indent=2))
    log = workdir / "agent.log"
    process = None
    try:
        with log.open("wb") as log_file:
            process = subprocess.Popen([str(bao_binary()), "agent", f"-config={config_file}"], stdout=log_file,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                       env={"PATH": os.environ.get("PATH", ""), "HOME": str(workdir)})
        yield process
    finally:
        if process is not None:
            stop_process_group(process)
        shutil.rmtree(workdir, ignore_errors=True)
