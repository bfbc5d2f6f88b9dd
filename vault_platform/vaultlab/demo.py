"""`make vault-demo`: the platform's Vault on this machine, bootstrapped as on a fresh deploy.

Starts the lab (3 OpenBao nodes from the HelmRelease's raft HCL, KMS auto-unseal from the
emulator, the Kubernetes API stand-ins) and PostgreSQL 16 run like RDS, then does what a
first deploy does, in order: the vault-init Job; the vault-configure Job (the database step
waits for the master credential); the operator's one step (a root token generated with the
recovery keys, the RDS master secret put in kv); vault-configure again (Vault makes its own
database login). Then the demo app as its pod runs: the real agent, configured from the
Deployment's annotations, renders its credential, and the image's app.py (images/demo-app/)
serves from PostgreSQL with it.
Prints VAULT_ADDR / VAULT_CACERT and commands to try; Ctrl-C stops everything.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from vault_platform.cli import one_line_errors
from vault_platform.config.load import load_environment
from vault_platform.ops.emulator import free_port, stop_process_group
from vault_platform.vaultlab.agent import AGENT_HOME, SECRETS_DIR, SERVICE_ACCOUNT_DIR, agent_config, \
    demo_agent_spec, lab_application_vars, running_agent
from vault_platform.vaultlab.cluster import LabError, Response, VaultLab, bao_binary
from vault_platform.images import DEMO_APP, ImagePathError
from vault_platform.vaultlab.flux_tree import RenderedTypeError, one, rendered, string_env
from vault_platform.vaultlab.jobs import JobRunner
from vault_platform.vaultlab.postgres import PostgresServer, running_postgres

READY = "vault-demo: ready"


def say(message: str) -> None:
    print(message, flush=True)


def run_job(jobs: JobRunner, job: str, *, expected_failure: str | None = None) -> None:
    """One attempt of the Job; ``expected_failure``: the line it must fail with (and may)."""
    result = jobs.run(job)
    for line in (result.stdout + result.stderr).splitlines():
        say(f"  [{job}] {line}")
    if result.returncode != 0 and not (expected_failure and expected_failure in result.stderr + result.stdout):
        raise LabError(f"the vault-{job} Job failed ({result.returncode}): {result.stderr.strip()[-500:]}")


def checked(response: Response, what: str) -> dict:
    if response.status not in (200, 204):
        raise LabError(f"{what}: HTTP {response.status} {response.body.get('errors')}")
    return response.body


def operator_root_token(lab: VaultLab) -> str:
    """An operator's root token from the recovery keys vault-init left (README's recovery path)."""
    keys = lab.kube.secret_data("vault", "vault-recovery-keys")  # type: ignore[union-attr]
    if not keys:
        raise LabError("vault-init left no recovery keys in Secret vault/vault-recovery-keys")
    recovery = json.loads(keys["recovery-keys.json"])
    return lab.generate_root(recovery["recovery_keys_b64"], recovery["recovery_threshold"])


def demo_app_container(postgres: PostgresServer) -> tuple[dict[str, str], list[str]]:
    """The app container of the demo Deployment as Flux renders the application cluster's
    ``demo`` Kustomization, DATABASE_* being the lab's PostgreSQL: its env (typed as the API
    server types it) and its command, the program being the image's file in Git (images/demo-app/)
    run by this interpreter, whose pg8000 is the version the image bakes in (tests/vault/test_app.py)."""
    variables = {**lab_application_vars(), "DATABASE_HOST": postgres.host, "DATABASE_PORT": str(postgres.port),
                 "DATABASE_NAME": postgres.database}
    objects = rendered("demo", variables, "application")
    pod = one(objects, "Deployment", "demo-app")["spec"]["template"]["spec"]
    (app,) = [c for c in pod["containers"] if c["name"] == "app"]
    try:
        env = string_env(app, "Deployment demo-app container app")
    except RenderedTypeError as err:
        raise LabError(str(err)) from None
    program, script = app["command"]
    if program != "python3":
        raise LabError(f"Deployment demo-app: command {app['command']} is not `python3 {DEMO_APP.app_dir}/<program>`")
    try:
        return env, [sys.executable, str(DEMO_APP.source_of(script))]
    except ImagePathError as err:
        raise LabError(f"Deployment demo-app: command {err}") from None


@contextlib.contextmanager
def running_demo_app(lab: VaultLab, postgres: PostgresServer) -> Iterator[tuple[str, Path, Path]]:
    """The demo pod: agent (from the annotations) + app.py. Yields (app URL, credentials file, SA token)."""
    assert lab.root is not None and lab.application_kube is not None
    pod = lab.root / "demo-app"
    places = {SECRETS_DIR: pod / "secrets", SERVICE_ACCOUNT_DIR: pod / "serviceaccount", AGENT_HOME: pod / "home",
              PurePosixPath("/vault/ca"): pod / "vault-ca"}
    for directory in places.values():
        directory.mkdir(parents=True)
    lab.application_kube.write_service_account_dir(places[SERVICE_ACCOUNT_DIR], "demo", "demo-app")
    (places[PurePosixPath("/vault/ca")] / "ca.crt").write_bytes(lab.ca_cert.read_bytes())
    spec = demo_agent_spec()
    credentials = places[SECRETS_DIR] / spec.secrets[0].name
    port = free_port()
    with running_agent(agent_config(spec, lab.active_node().ports.api_addr, places)):
        container_env, argv = demo_app_container(postgres)
        env = {**container_env, "PATH": os.environ.get("PATH", ""), "LISTEN_HOST": "127.0.0.1", "LISTEN_PORT": str(port),
               "DATABASE_CA_FILE": str(postgres.ca_cert), "DB_CREDENTIALS_FILE": str(credentials)}
        with (pod / "app.log").open("wb") as log:
            app = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            yield f"http://127.0.0.1:{port}", credentials, places[SERVICE_ACCOUNT_DIR] / "token"
        finally:
            stop_process_group(app)


def instructions(lab: VaultLab, operator_token: str, app_url: str, credentials: Path, jwt: Path) -> str:
    bao = os.path.relpath(bao_binary())
    address = lab.active_node().ports.api_addr
    tries = [
        (f"{bao} operator raft list-peers", "three voters"),
        (f"{bao} read database/config/platform-postgres", "Vault logs in as its own user 'vault'"),
        (f"{bao} read database/creds/demo-app", "a new PostgreSQL user (TTL 2m, max 6m)"),
        (f"{bao} write auth/kubernetes-application/login role=demo-app jwt=@{jwt}", "log in as the demo pod"),
        (f"curl -s {app_url}/", "the demo app, answering from PostgreSQL"),
        (f"watch -n 5 cat {credentials}", "the agent's file: a new user every ~6 min"),
        (f"{bao} lease revoke -prefix database/creds/demo-app",
         "drop the app's user now: 503 until the agent renders the next one (<= 2 min)"),
    ]
    return "\n".join([
        "",
        "Vault (OpenBao) is up: 3 raft nodes, auto-unsealed by the emulator's KMS, bootstrapped by the Jobs.",
        f"  export VAULT_ADDR={address} BAO_ADDR={address}",
        f"  export VAULT_CACERT={lab.ca_cert} BAO_CACERT={lab.ca_cert}",
        f"  export VAULT_TOKEN={operator_token} BAO_TOKEN={operator_token}   # operator root token (demo only)",
        "",
        "Try:",
        *(f"  {command}\n      # {comment}" for command, comment in tries),
        f"Logs and files: {lab.root}",
        "Ctrl-C stops everything.",
        READY,
    ])


@one_line_errors
def main() -> int:
    database = load_environment("default").database_cluster.database
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with contextlib.ExitStack() as stack:
            say("starting PostgreSQL 16 (TLS, scram) and the Vault lab ...")
            postgres = stack.enter_context(running_postgres(database.database_name, database.master_username))
            lab = stack.enter_context(VaultLab())
            jobs = JobRunner(lab, flux_values={
                **lab.platform_vars(),
                "DATABASE_HOST": postgres.host, "DATABASE_PORT": str(postgres.port), "DATABASE_NAME": postgres.database})
            run_job(jobs, "init")
            # Fails, as on a fresh deploy, until the operator hands the master credential over.
            run_job(jobs, "configure", expected_failure="the database engine has no connection")
            say("operator: root token from the recovery keys; the RDS master secret into kv/platform/database-admin")
            operator_token = operator_root_token(lab)
            checked(lab.client(operator_token).request("POST", "kv/data/platform/database-admin", {
                "data": {"username": postgres.master_user, "password": postgres.master_password}}),
                "kv/platform/database-admin")
            run_job(jobs, "configure")
            app_url, credentials, jwt = stack.enter_context(running_demo_app(lab, postgres))
            say(instructions(lab, operator_token, app_url, credentials, jwt))
            while not stop.wait(0.5):
                pass
    except KeyboardInterrupt:
        pass
    say("vault-demo: stopped; every process it started is gone")
    return 0
