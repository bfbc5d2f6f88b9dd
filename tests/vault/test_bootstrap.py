"""vault-init and vault-configure, unmodified, as their Job manifests run them, against the lab:
first run, second run, a failure at each step, and the README's recovery path. After every
path the root token is revoked and the recovery keys are in Secret vault/vault-recovery-keys."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.vault.conftest import KEYS_SECRET, SECRETS_PATH, TOKEN_SECRET, Bootstrapped, jobs_for
from vault_platform.gitops.vault_checks import VAULT_CONFIG_DIR
from vault_platform.vaultlab import KubeStandIn, VaultLab
from vault_platform.vaultlab.tls import write_lab_tls

pytestmark = pytest.mark.integration

CHANGES = ("enabled", "removed", "wrote policy", "configured")


def output(run: subprocess.CompletedProcess[str]) -> str:
    return run.stdout + run.stderr


def assert_only_one_root_token_exists(lab: VaultLab, root: str) -> None:
    """Every root token Vault knows is the one the test just generated: init's was revoked."""
    mine = lab.client(root).request("GET", "auth/token/lookup-self").body["data"]["accessor"]
    assert lab.root_tokens(root) == [mine]


def test_a_refused_call_before_sys_init_fails_the_job_and_leaves_vault_uninitialised(bootstrapped: Bootstrapped):
    run = bootstrapped.runs["init-refused-before-sys-init"]
    assert run.returncode != 0
    assert "POST" in output(run) and "HTTP 500" in output(run)
    assert bootstrapped.runs["health-after-refused"] == [501, 501, 501]


def test_first_run_initialises_stores_the_keys_despite_a_failed_write_and_revokes_the_root_token(bootstrapped: Bootstrapped):
    run = bootstrapped.runs["init"]
    assert run.returncode == 0, output(run)
    assert "storing the recovery keys failed" in run.stdout and "attempt 1 of" in run.stdout
    keys = bootstrapped.recovery_keys()
    assert len(keys["recovery_keys_b64"]) == 5 and keys["recovery_threshold"] == 3
    secret = bootstrapped.lab.kube.secrets[("vault", KEYS_SECRET)]
    assert set(secret["data"]) == {"recovery-keys.json"}, "only the recovery keys, never the root token"
    assert bootstrapped.lab.kube.secret_data("vault", TOKEN_SECRET) is None
    # The keys work (they make a root token) and init's own root token is gone.
    with bootstrapped.operator_root() as root:
        assert_only_one_root_token_exists(bootstrapped.lab, root)


def test_configure_applies_everything_but_fails_while_the_database_is_not_configured(bootstrapped: Bootstrapped):
    run = bootstrapped.runs["configure"]
    for line in ("enabled the file audit device", "enabled kv-v2 at kv/", "enabled the database engine",
                 "wrote policy demo-app", "wrote policy external-secrets", "wrote policy gitlab-runner"):
        assert line in run.stdout
    # Never exit 0 on a Vault that cannot issue the credentials it exists for.
    assert run.returncode != 0
    assert "vault-configure is incomplete: the database engine has no connection platform-postgres" in output(run)
    with bootstrapped.operator_root() as root:
        client = bootstrapped.lab.client(root)
        assert {"kubernetes/", "kubernetes-application/"} <= set(client.request("GET", "sys/auth").body["data"])
        assert {"kv/", "database/"} <= set(client.request("GET", "sys/mounts").body["data"])
        assert "file/" in client.request("GET", "sys/audit").body["data"]
        for role in ("external-secrets", "gitlab-runner"):
            assert client.request("GET", f"auth/kubernetes/role/{role}").status == 200
        for role in ("external-secrets", "demo-app"):
            assert client.request("GET", f"auth/kubernetes-application/role/{role}").status == 200
        assert_only_one_root_token_exists(bootstrapped.lab, root)


def test_second_runs_change_nothing(bootstrapped: Bootstrapped):
    init = bootstrapped.runs["init-again"]
    assert init.returncode == 0, output(init)
    assert "already initialised and bootstrapped: nothing to do" in init.stdout
    configure = bootstrapped.runs["configure-again"]
    assert not [line for line in configure.stdout.splitlines() if line.startswith(CHANGES)], configure.stdout
    assert output(configure).count("incomplete") == 1


def test_init_killed_after_storing_the_keys_fails_until_the_readme_recovery_finishes_it(kms_emulator):
    with VaultLab(emulator=kms_emulator) as lab:
        assert lab.kube is not None
        jobs = jobs_for(lab)
        running: list[subprocess.Popen[str]] = []
        # The pod dies (node lost, OOM) right after the keys are stored: its root token dies with it.
        lab.kube.fail("PUT", f"{SECRETS_PATH}/{KEYS_SECRET}", status=None,
                      action=lambda: os.killpg(running[0].pid, signal.SIGKILL))
        running.append(jobs.start("init"))
        assert running[0].wait(timeout=120) == -signal.SIGKILL
        assert lab.wait_for_health({200, 429}) and lab.kube.secret_data("vault", KEYS_SECRET)

        # The Job's next attempt must not report success on a Vault nobody can configure.
        retry = jobs.run("init")
        assert retry.returncode != 0
        assert "bootstrap did not finish" in output(retry) and TOKEN_SECRET in output(retry)
        bootstrapped = Bootstrapped(lab, jobs, {})
        assert bootstrapped.login("kubernetes", "vault-configure", "vault", "vault-configure").status != 200

        # README: generate a root token with the recovery keys, store it as vault-bootstrap-token, re-run init.
        token = bootstrapped.root_token()
        lab.kube.put_secret("vault", TOKEN_SECRET, {"token": token})
        recovered = jobs.run("init")
        assert recovered.returncode == 0, output(recovered)
        assert f"re-running the bootstrap with {TOKEN_SECRET}" in recovered.stdout
        # The dead run's root token never expires: the recovery revokes it too.
        assert "revoked a root token left by an earlier run" in recovered.stdout
        assert lab.kube.secret_data("vault", TOKEN_SECRET) is None, "the token Secret is deleted"
        assert lab.client(token).request("GET", "auth/token/lookup-self").status == 403, "the token is revoked"
        assert bootstrapped.login("kubernetes", "vault-configure", "vault", "vault-configure").status == 200

        again = jobs.run("init")
        assert again.returncode == 0 and "nothing to do" in again.stdout
        with bootstrapped.operator_root() as root:
            assert_only_one_root_token_exists(lab, root)


def test_keys_that_cannot_be_stored_fail_the_job_loudly_and_are_never_printed(tmp_path):
    """The one unrecoverable step: after sys/init the keys exist only in the Job's memory. Its
    store step (init.store_keys) against a stand-in that refuses every write: it retries, then
    fails with the README's 'keys lost' line, and no key reaches the log."""
    tls = write_lab_tls(tmp_path / "tls")
    with KubeStandIn(tls) as kube:
        account = kube.write_service_account_dir(tmp_path / "sa", "vault", "vault-init")
        kube.fail("PUT", f"{SECRETS_PATH}/{KEYS_SECRET}", status=500, times=100)
        program = ("import init, vaultapi\n"
                   "kube = vaultapi.Kube()\n"
                   "secret = kube.create_secret(init.KEYS_SECRET, init.LABELS)\n"
                   "init.store_keys(kube, secret, {'recovery_keys_b64': ['SECRET-KEY-SHARE']}, attempts=3, pause=0)\n")
        run = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60,
                             cwd=VAULT_CONFIG_DIR / "scripts",
                             env={"KUBE_SERVICE_ACCOUNT_DIR": str(account), "KUBE_API_URL": kube.url,
                                  "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"})
    assert run.returncode == 1
    assert run.stdout.count("storing the recovery keys failed") == 3
    assert output(run).strip().splitlines()[-1].startswith(
        "Vault is initialised but its recovery keys could not be stored in Secret vault-recovery-keys: they are lost.")
    assert "SECRET-KEY-SHARE" not in output(run)
    assert kube.secret_data("vault", KEYS_SECRET) == {}
