"""Fixtures of the Vault suite: one emulator (KMS) per session, labs as the tests need them.

Each lab is its own OpenBao cluster in its own temporary directory on free loopback ports,
stopped (with every process it started) when its fixture ends, on failure too; so the
suite is safe under pytest-xdist (each worker has its own session)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vault_platform.emulator import Emulator
from vault_platform.vaultlab import JobRunner, VaultLab


@pytest.fixture(scope="session")
def kms_emulator() -> Iterator[Emulator]:
    """The project's AWS emulator; every lab of the session makes its own KMS key in it."""
    with Emulator() as emulator:
        yield emulator


def flux_values(lab: VaultLab, **overrides: str) -> dict[str, str]:
    """platform-vars values the Jobs read, pointing at the lab. No database runs in these
    tests unless a test gives DATABASE_* of one (tests/vault/test_database*.py)."""
    assert lab.application_kube is not None
    return {
        "APPLICATION_CLUSTER_ENDPOINT": lab.application_kube.url,
        "APPLICATION_CLUSTER_CA": lab.application_ca_b64(),
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
