"""Runs the vault-configure Job's database part (configure.py, unmodified) against the lab.

The Job's inputs are the same as in the cluster: config/database.json (Git's, or a test's
copy), the DATABASE_* variables Flux substitutes from platform-vars, a token holding only
the policy vault-init renders (scripts/job_policy.py), and the RDS master credential an operator hands over in kv.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from vault_platform.gitops.vault_checks import SAMPLE_PLATFORM, rendered_configure_policy
from vault_platform.vaultlab.flux_tree import rendered_config_map_dir

from vault_platform.vaultlab.postgres import PostgresServer
from vault_platform.vaultlab.single_node import VaultServer

REPO_ROOT = Path(__file__).resolve().parents[2]
VAULT_CONFIG_DIR = REPO_ROOT / "flux" / "infrastructure" / "vault-config"
DATABASE_JSON = VAULT_CONFIG_DIR / "config" / "database.json"
POLICY_DIR = VAULT_CONFIG_DIR / "policies"


@functools.lru_cache(maxsize=None)
def configure_script() -> ModuleType:
    """configure.py as the Job's pod has it: from the vault-bootstrap-scripts ConfigMap as Flux
    renders it (a substitution that changed the script shows here), beside its vaultapi.py."""
    directory = rendered_config_map_dir("vault-config", "vault-bootstrap-scripts")
    sys.path.insert(0, str(directory))
    try:
        spec = importlib.util.spec_from_file_location("configure_as_flux_renders_it", directory / "configure.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(directory))
    return module


def load_database_spec(path: Path = DATABASE_JSON) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(path.read_text())
    spec.pop("_comment", None)
    return spec


@contextlib.contextmanager
def _job_environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def database_environment(postgres: PostgresServer) -> dict[str, str]:
    """The DATABASE_* platform-vars of ``postgres``."""
    return {"DATABASE_HOST": postgres.host, "DATABASE_PORT": str(postgres.port), "DATABASE_NAME": postgres.database}


def configure_token(vault: VaultServer, config_dir: Path = VAULT_CONFIG_DIR / "config",
                    environment: dict[str, str] | None = None) -> str:
    """A token with the configure Job's policy only, as its Kubernetes login would give it: the
    policy vault-init renders for ``environment``'s (else this process's) DATABASE_* and clusters."""
    values = {**os.environ, **(environment or {})}
    database = {key: values[key] for key in ("DATABASE_HOST", "DATABASE_PORT", "DATABASE_NAME") if key in values}
    with tempfile.TemporaryDirectory() as merged:
        # A test's config dir may hold only database.json: Git's other files complete it.
        for source in (VAULT_CONFIG_DIR / "config", config_dir):
            for file in source.glob("*.json"):
                shutil.copyfile(file, Path(merged) / file.name)
        policy = rendered_configure_policy(POLICY_DIR, Path(merged), platform={**SAMPLE_PLATFORM, **database},
                                           clusters_b64=values.get("VAULT_KUBERNETES_CLUSTERS_B64"))
    vault.call("PUT", "sys/policies/acl/vault-configure", {"policy": policy})
    return str(vault.call("POST", "auth/token/create", {"policies": ["vault-configure"], "ttl": "15m",
                                                         "no_default_policy": True})["auth"]["client_token"])


def hand_over_master_credential(vault: VaultServer, postgres: PostgresServer) -> None:
    """The operator's one step (README, 'Database engine'): the RDS master secret into kv."""
    vault.call("POST", "kv/data/platform/database-admin",
               {"data": {"username": postgres.master_user, "password": postgres.master_password}})


# configure.py's steps that act on every application cluster (main() passes them the list).
CLUSTER_STEPS = frozenset({"kubernetes_auth", "roles"})


def run_configure_steps(vault: VaultServer, postgres: PostgresServer, config_dir: Path, steps: tuple[str, ...],
                        token: str | None = None, environment: dict[str, str] | None = None) -> None:
    """configure.py's ``configure_<step>`` functions in order, as the Job runs them (the
    application clusters read from ``environment`` as main() reads them)."""
    configure = configure_script()
    job_environment = {**database_environment(postgres), **(environment or {})}
    with _job_environment(job_environment):
        client = configure.Vault(addr=vault.addr, cacert=str(vault.ca_cert),
                                 token=token or configure_token(vault, config_dir))
        saved = configure.CONFIG_DIR, configure.POLICY_DIR
        configure.CONFIG_DIR, configure.POLICY_DIR = str(config_dir), str(POLICY_DIR)
        try:
            clusters = (configure.application_clusters(os.environ.get(configure.CLUSTERS_VAR, ""))
                        if CLUSTER_STEPS & set(steps) else None)
            for step in steps:
                function = getattr(configure, f"configure_{step}")
                if step in CLUSTER_STEPS:
                    function(client, clusters)
                else:
                    function(client)
        finally:
            configure.CONFIG_DIR, configure.POLICY_DIR = saved


def run_configure_database(vault: VaultServer, postgres: PostgresServer, config_dir: Path,
                           token: str | None = None) -> None:
    """configure.py's engines + database steps."""
    run_configure_steps(vault, postgres, config_dir, ("engines", "database"), token)


def bootstrap_database_engine(vault: VaultServer, postgres: PostgresServer, config_dir: Path) -> None:
    """Engines mounted, master credential handed over, configure run: the first deploy."""
    token = configure_token(vault, config_dir, database_environment(postgres))
    run_configure_steps(vault, postgres, config_dir, ("engines",), token)
    hand_over_master_credential(vault, postgres)
    run_configure_steps(vault, postgres, config_dir, ("database",), token)
