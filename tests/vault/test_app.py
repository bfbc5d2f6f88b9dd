"""The application path: the real agent, configured from the demo Deployment's annotations,
renders the database credential; the real demo app uses it and keeps serving across rotations.

GIVEN Vault configured by configure.py from Git (policies, roles.json, Kubernetes auth for the
application cluster through the Kubernetes API stand-in's TokenReview, the database engine
with the demo-app role's TTLs shortened to seconds), WHEN `bao agent` runs with the config the
injector would build and images/demo-app/app.py (the image's app) runs against its file, THEN every
request is answered by PostgreSQL as the current user, through at least two new users, and
each old user is gone from PostgreSQL. Two copies of the app run: one told to look at the
file only after an error (so each rotation goes through the hard path: its session's user
dropped under it), one checking the file every half second (the usual path).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path, PurePosixPath

import pytest
import yaml

from tests.vault.test_database import DATABASE_NAME, MASTER_USER, short_ttl_copy
from vault_platform.images import DEMO_APP
from vault_platform.ops.emulator import free_port, stop_process_group
from vault_platform.vaultlab.cluster import APPLICATION_CLUSTER, kubernetes_clusters_b64
from vault_platform.vaultlab.agent import (
    DEMO_DEPLOYMENT, SECRETS_DIR, SERVICE_ACCOUNT_DIR, AGENT_HOME, AgentSpecError, agent_config,
    agent_spec_from_annotations, demo_agent_spec, running_agent,
)
from vault_platform.vaultlab.database_engine import (
    VAULT_CONFIG_DIR, configure_token, database_environment, hand_over_master_credential, run_configure_steps,
)
from vault_platform.vaultlab.kube_standin import KubeStandIn
from vault_platform.vaultlab.postgres import running_postgres
from vault_platform.vaultlab.single_node import running_vault
from vault_platform.vaultlab.tls import write_lab_tls

APP = DEMO_APP.context / "app.py"
REQUIREMENTS = DEMO_APP.context / "requirements.txt"
ROTATIONS = 2


def annotations() -> dict[str, str]:
    return dict(yaml.safe_load(DEMO_DEPLOYMENT.read_text())["spec"]["template"]["metadata"]["annotations"])


# --- the agent's configuration, from the annotations (quick tier) ----------------------------

def test_the_agent_logs_in_as_the_annotated_role_at_the_injectors_auth_path() -> None:
    spec = demo_agent_spec()
    assert (spec.role, spec.auth_path, str(spec.ca_cert)) == ("demo-app", "auth/kubernetes-application",
                                                              "/vault/ca/ca.crt")
    [secret] = spec.secrets
    assert (secret.name, secret.vault_path, str(secret.destination)) == (
        "db-creds", "database/creds/demo-app", "/vault/secrets/db-creds")
    assert "DB_USERNAME={{ .Data.username }}" in (secret.template or "")


def test_editing_the_annotations_changes_the_agents_config(tmp_path: Path) -> None:
    edited = annotations() | {"vault.hashicorp.com/role": "other", "vault.hashicorp.com/auth-path": "auth/x"}
    spec = agent_spec_from_annotations(edited, "auth/kubernetes-application")
    places = {SECRETS_DIR: tmp_path, SERVICE_ACCOUNT_DIR: tmp_path, AGENT_HOME: tmp_path,
              PurePosixPath("/vault/ca"): tmp_path}
    [method] = agent_config(spec, "https://127.0.0.1:1", places)["auto_auth"]["method"]
    assert (method["mount_path"], method["config"]["role"]) == ("auth/x", "other")


def test_an_annotation_the_lab_does_not_model_is_named_in_one_line() -> None:
    edited = annotations() | {"vault.hashicorp.com/agent-inject-perms-db-creds": "0400"}
    with pytest.raises(AgentSpecError, match=r"^deployment: annotation vault.hashicorp.com/agent-inject-perms-db-creds "
                                             r"is not modelled"):
        agent_spec_from_annotations(edited, "auth/kubernetes-application")


def test_a_pod_path_without_a_lab_place_is_refused(tmp_path: Path) -> None:
    spec = demo_agent_spec()
    with pytest.raises(AgentSpecError, match="/vault/ca/ca.crt: no lab directory"):
        agent_config(spec, "https://127.0.0.1:1", {SECRETS_DIR: tmp_path, AGENT_HOME: tmp_path,
                                                   SERVICE_ACCOUNT_DIR: tmp_path})


def test_the_image_bakes_in_the_driver_versions_the_suite_runs() -> None:
    """The image's requirements.txt (hash-pinned, installed by its Containerfile) pins what
    this suite's interpreter runs app.py with; the pod installs nothing at start."""
    pins = dict(line.split(" ")[0].split("==") for line in REQUIREMENTS.read_text().splitlines()
                if line and not line.startswith("#"))
    assert all("--hash=sha256:" in line for line in REQUIREMENTS.read_text().splitlines()
               if line and not line.startswith("#"))
    assert {name: metadata.version(name) for name in pins} == pins
    assert "--require-hashes" in DEMO_APP.containerfile.read_text()
    pod = yaml.safe_load(DEMO_DEPLOYMENT.read_text())["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and "initContainers" not in pod


# --- the real agent and app against real servers -------------------------------------------

def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")
    except urllib.error.URLError as err:  # not listening (yet)
        return 0, {"error": str(err.reason)}


@contextlib.contextmanager
def running_app(env: dict[str, str], log: Path) -> Iterator[str]:
    port = free_port()
    with log.open("wb") as log_file:
        process = subprocess.Popen([sys.executable, str(APP)], stdout=log_file, stderr=subprocess.STDOUT,
                                   env={**os.environ, **env, "LISTEN_HOST": "127.0.0.1", "LISTEN_PORT": str(port)},
                                   start_new_session=True)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process_group(process)


def wait_for(path: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, f"the agent rendered nothing to {path}"
        time.sleep(0.1)


@pytest.mark.integration
def test_the_app_keeps_serving_through_two_rotations(tmp_path: Path) -> None:
    config_dir = short_ttl_copy(tmp_path / "config", "3s", "6s")
    (config_dir / "roles.json").write_text((VAULT_CONFIG_DIR / "config" / "roles.json").read_text())
    lab_dirs = {SECRETS_DIR: tmp_path / "secrets", SERVICE_ACCOUNT_DIR: tmp_path / "serviceaccount",
                AGENT_HOME: tmp_path / "home", PurePosixPath("/vault/ca"): tmp_path / "vault-ca"}
    for directory in lab_dirs.values():
        directory.mkdir()
    with running_postgres(DATABASE_NAME, MASTER_USER) as postgres, running_vault() as vault, \
            KubeStandIn(write_lab_tls(tmp_path / "kube-tls"), auth_delegators=frozenset({"demo/demo-app"})) as kube:
        vault.call("POST", "sys/auth/kubernetes", {"type": "kubernetes"})  # init.py's part
        clusters = {"VAULT_KUBERNETES_CLUSTERS_B64": kubernetes_clusters_b64({APPLICATION_CLUSTER: kube})}
        token = configure_token(vault, config_dir, {**database_environment(postgres), **clusters})
        run_configure_steps(vault, postgres, config_dir, ("engines",), token)
        hand_over_master_credential(vault, postgres)
        run_configure_steps(vault, postgres, config_dir, ("kubernetes_auth", "policies", "roles", "database"), token,
                            environment=clusters)
        kube.write_service_account_dir(lab_dirs[SERVICE_ACCOUNT_DIR], "demo", "demo-app")
        (lab_dirs[PurePosixPath("/vault/ca")] / "ca.crt").write_bytes(vault.ca_cert.read_bytes())
        spec = demo_agent_spec()
        credentials = lab_dirs[SECRETS_DIR] / spec.secrets[0].name
        with running_agent(agent_config(spec, vault.addr, lab_dirs)):
            wait_for(credentials)
            app_env = {"DATABASE_HOST": postgres.host, "DATABASE_PORT": str(postgres.port),
                       "DATABASE_NAME": postgres.database, "DATABASE_CA_FILE": str(postgres.ca_cert),
                       "DB_CREDENTIALS_FILE": str(credentials)}
            # Two replicas of the app on the one file: "late" looks at it only after an error
            # (each switch is the hard path: its user dropped under its session), "eager"
            # every half second as well (the usual path: it moves before the drop).
            with running_app(app_env | {"CREDENTIALS_CHECK_SECONDS": "3600"}, tmp_path / "late.log") as late, \
                    running_app(app_env | {"CREDENTIALS_CHECK_SECONDS": "0.5"}, tmp_path / "eager.log") as eager:
                seen: dict[str, list[str]] = {late: [], eager: []}
                failures: list[tuple[str, int, dict]] = []
                deadline = time.monotonic() + 45
                while min(map(len, seen.values())) < ROTATIONS + 1 and time.monotonic() < deadline:
                    for url, users in seen.items():
                        status, answer = get(url + "/")
                        if status == 200:
                            if not users or users[-1] != answer["user"]:
                                users.append(answer["user"])
                        elif users:  # before its first answer an app may still be connecting
                            failures.append((url, status, answer))
                    time.sleep(0.2)
                logs = {name: (tmp_path / f"{name}.log").read_text() for name in ("late", "eager")}
        users = seen[late]
        assert [len(u) for u in seen.values()] == [ROTATIONS + 1] * 2, f"users seen {seen}; logs:\n{logs}"
        assert seen[eager] == users  # both follow the agent's file, one user at a time
        assert failures == [], f"requests failed during rotation: {failures}; logs:\n{logs}"
        assert logs["late"].count("re-reading") >= ROTATIONS  # each of its switches came from the drop
        for old_user in users[:-1]:
            assert not postgres.role_exists(old_user)
