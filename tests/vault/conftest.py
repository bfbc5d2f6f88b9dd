"""Fixtures of the Vault suite: one emulator (KMS) per session, labs as the tests need them.

Each lab is its own OpenBao cluster in its own temporary directory on free loopback ports,
stopped (with every process it started) when its fixture ends, on failure too; so the
suite is safe under pytest-xdist (each worker has its own session)."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from vault_platform.ops.emulator import Emulator
from vault_platform.vaultlab import JobRunner, Response, VaultLab


@pytest.fixture(scope="session")
def kms_emulator() -> Iterator[Emulator]:
    """The project's AWS emulator; every lab of the session makes its own KMS key in it."""
    with Emulator() as emulator:
        yield emulator


def flux_values(lab: VaultLab, **overrides: str) -> dict[str, str]:
    """platform-vars values the Jobs read, pointing at the lab. No database runs in these
    tests unless a test gives DATABASE_* of one (tests/vault/test_database*.py)."""
    return {
        **lab.platform_vars(),
        "DATABASE_HOST": "127.0.0.1",
        "DATABASE_PORT": "1",
        "DATABASE_NAME": "platform",
        **overrides,
    }


@pytest.fixture
def fresh_lab(kms_emulator: Emulator) -> Iterator[VaultLab]:
    """A new, uninitialised cluster for one test."""
    with VaultLab(emulator=kms_emulator) as lab:
        yield lab


def jobs_for(lab: VaultLab, **overrides: str) -> JobRunner:
    return JobRunner(lab, flux_values(lab, **overrides))


KEYS_SECRET = "vault-recovery-keys"
TOKEN_SECRET = "vault-bootstrap-token"
SECRETS_PATH = "/api/v1/namespaces/vault/secrets"


@dataclass
class Bootstrapped:
    """A lab that vault-init and vault-configure brought up from nothing, and what each run said."""

    lab: VaultLab
    jobs: JobRunner
    runs: dict[str, subprocess.CompletedProcess[str]]

    def recovery_keys(self) -> dict:
        data = self.lab.kube.secret_data("vault", KEYS_SECRET)  # type: ignore[union-attr]
        assert data is not None, f"Secret vault/{KEYS_SECRET} is missing"
        return json.loads(data["recovery-keys.json"])

    def root_token(self) -> str:
        """A new root token from the stored recovery keys (as the README's recovery path does).
        Revoke it when done (``operator_root``), or the next root-token count is off."""
        keys = self.recovery_keys()
        return self.lab.generate_root(keys["recovery_keys_b64"], keys["recovery_threshold"])

    @contextlib.contextmanager
    def operator_root(self) -> Iterator[str]:
        token = self.root_token()
        try:
            yield token
        finally:
            self.lab.client(token).request("POST", "auth/token/revoke-self")

    def privileged_apply(self, jobs: JobRunner, mounts_instead: dict | None = None,
                         remove_mounts: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        """The README's bootstrap-token path: a root token from the recovery keys in Secret
        vault-bootstrap-token, then vault-init (with ``jobs``' platform-vars) re-renders and applies
        the configure Job's policy, removes the unlisted cluster mounts ``remove_mounts`` names (the
        operator's confirmation), revokes and deletes the token."""
        assert self.lab.kube is not None
        data = {"token": self.root_token(), **({"remove-mounts": ",".join(remove_mounts)} if remove_mounts else {})}
        self.lab.kube.put_secret("vault", TOKEN_SECRET, data)
        run = jobs.run("init", mounts_instead=mounts_instead)
        assert run.returncode == 0, run.stdout + run.stderr
        return run

    def login(self, mount: str, role: str, namespace: str, account: str) -> Response:
        """A workload's Kubernetes login, with a token its cluster's API (stand-in) issued."""
        cluster = self.lab.kube if mount == "kubernetes" else self.lab.application_kube
        jwt = cluster.service_account_token(namespace, account)  # type: ignore[union-attr]
        return self.lab.client().request("POST", f"auth/{mount}/login", {"role": role, "jwt": jwt})


@pytest.fixture(scope="session")
def bootstrapped(kms_emulator: Emulator) -> Iterator[Bootstrapped]:
    """One cluster, bootstrapped the way Flux does it on a first deploy, with two faults on the
    way: the API refuses the keys Secret's creation once (before sys/init), and fails the
    first write of the keys (after sys/init). Each Job then runs a second time."""
    with VaultLab(emulator=kms_emulator) as lab:
        assert lab.kube is not None
        jobs = jobs_for(lab)
        runs = {}
        lab.kube.fail("POST", SECRETS_PATH, status=500)
        runs["init-refused-before-sys-init"] = jobs.run("init")
        runs["health-after-refused"] = lab.health()  # type: ignore[assignment]
        lab.kube.fail("PUT", f"{SECRETS_PATH}/{KEYS_SECRET}", status=503)
        runs["init"] = jobs.run("init")
        runs["configure"] = jobs.run("configure")
        runs["init-again"] = jobs.run("init")
        runs["configure-again"] = jobs.run("configure")
        yield Bootstrapped(lab, jobs, runs)
