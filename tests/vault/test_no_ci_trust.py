"""An environment without [ci] trusts no GitLab instance in Vault either (issue 19).

GIVEN a new cluster whose tooling platform-vars have no GITLAB_URL (what the platform stack
writes without a [ci] table; job-configure.yaml reads ${GITLAB_URL:=}), WHEN vault-init and
vault-configure run as Flux runs them, THEN Vault has no jwt-gitlab auth mount, and the
configure Job says so instead of refusing to run."""

from __future__ import annotations

import pytest

from tests.vault.conftest import Bootstrapped, flux_values
from vault_platform.vaultlab.cluster import VaultLab
from vault_platform.vaultlab.jobs import JobRunner

pytestmark = pytest.mark.integration


def test_without_gitlab_url_vault_trusts_no_ci_job(kms_emulator):
    with VaultLab(emulator=kms_emulator) as lab:
        values = {name: value for name, value in flux_values(lab).items() if name != "GITLAB_URL"}
        jobs = JobRunner(lab, values)
        init = jobs.run("init")
        assert init.returncode == 0, init.stdout + init.stderr
        assert jobs.environment("configure")[1]["GITLAB_URL"] == ""  # ${GITLAB_URL:=}, as Flux substitutes it
        configure = jobs.run("configure")  # ends non-zero until the database engine is set up (README)
        assert "jwt-gitlab/ not configured" in configure.stdout, configure.stdout + configure.stderr
        with Bootstrapped(lab, jobs, {}).operator_root() as root:
            mounts = lab.client(root).request("GET", "sys/auth").body["data"]
        assert "jwt-gitlab/" not in mounts and "kubernetes/" in mounts
