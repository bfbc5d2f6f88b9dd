"""Bad input that reaches a running Vault (the offline checks in tests/flux/test_vault_config.py
catch it earlier): the configure Job fails with one line naming what Vault refused, and a
corrected re-run finishes."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.vault.conftest import Bootstrapped
from vault_platform.gitops.vault_checks import VAULT_CONFIG_DIR

pytestmark = pytest.mark.integration


def failure_line(output: str) -> str:
    return output.strip().splitlines()[-1]


def test_a_policy_with_an_hcl_error_stops_the_configure_job_before_it_writes(bootstrapped: Bootstrapped, tmp_path):
    # A new policy file is a privileged change (the Job's policy names each policy it writes):
    # the Job names it and writes nothing; the offline check names the HCL error itself.
    policies = tmp_path / "policies"
    shutil.copytree(VAULT_CONFIG_DIR / "policies", policies)
    (policies / "broken.hcl").write_text('path "kv/*" { capabilities = ["read"] \n')
    run = bootstrapped.jobs.run("configure", mounts_instead={"/policies": policies})
    assert run.returncode != 0
    line = failure_line(run.stderr)
    assert line.startswith("policy vault-configure in Vault is not the one Git and platform-vars give "
                           "(differs at sys/policies/acl/broken)"), line
    assert "wrote policy" not in run.stdout


def test_a_role_naming_an_unknown_policy_is_one_line_before_anything_is_written(bootstrapped: Bootstrapped, tmp_path):
    # Vault itself accepts any policy name in a role; a typo would only fail at login.
    config = tmp_path / "config"
    shutil.copytree(VAULT_CONFIG_DIR / "config", config)
    roles = json.loads((config / "roles.json").read_text())
    roles["kubernetes"]["gitlab-runner"]["token_policies"] = ["gitlab-runer"]
    (config / "roles.json").write_text(json.dumps(roles))
    run = bootstrapped.jobs.run("configure", mounts_instead={"/config": config})
    assert run.returncode != 0
    assert failure_line(run.stderr) == ("config/roles.json: kubernetes.gitlab-runner.token_policies = "
                                        "['gitlab-runer']: names gitlab-runer, which policies/ does not have; "
                                        "fix: fix the name or add the policy file")
    assert run.stdout == ""
    with bootstrapped.operator_root() as root:
        role = bootstrapped.lab.client(root).request("GET", "auth/kubernetes/role/gitlab-runner").body["data"]
    assert role["token_policies"] == ["gitlab-runner"], "the role in Vault is unchanged"
