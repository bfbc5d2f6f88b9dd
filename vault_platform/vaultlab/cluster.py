"""OpenBao nodes started from the HelmRelease's raft HCL, auto-unsealed by the emulator's KMS.

See ``vault_platform/vaultlab/__init__.py`` for how to use the lab.
"""

from __future__ import annotations

import atexit
import base64
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import unittest.mock
import urllib.error
import urllib.parse
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from vault_platform.ops.emulator import TEST_ACCESS_KEY, Emulator, free_port, stop_process_group
from vault_platform.errors import ToolError
from vault_platform.gitops import vault_checks
from vault_platform.gitops.platform_vars import vault_kubernetes_cluster
from vault_platform.vaultlab.gitlab_standin import GitLabStandIn
from vault_platform.vaultlab.kube_standin import KubeStandIn
from vault_platform.vaultlab.raft_config import (
    LabSite,
    NodePorts,
    VaultRelease,
    chart_environment,
    lab_server_config,
    load_release,
)
from vault_platform.vaultlab.flux_tree import default_platform_vars, vault_certificate_names
from vault_platform.vaultlab.tls import LabTls, write_lab_tls

REGION = "eu-west-1"
# The default environment's one application cluster (environments/default.toml), the lab's.
APPLICATION_CLUSTER = "application"
STARTUP_TIMEOUT_SECONDS = 30.0
# Where the kubelet mounts a pod's service account. OpenBao's Kubernetes auth reads the CA and
# its own token from there (no setting moves it), so each node gets one, as in the pod.
POD_SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# Runs as `sh -c MOUNT_POD_SERVICE_ACCOUNT sh <lab dir> <hosts file> <command...>` inside a
# private mount namespace (unshare): a tmpfs over /run hides the machine's, then the lab's
# directory is bound where the pod has its mount, and the lab's hosts file over /etc/hosts (the
# cluster DNS for the pod names: Go's resolver reads it, so raft's retry_join dials
# vault-<i>.vault-internal and Go's TLS checks that name). Nothing outside the node's own
# namespace changes.
MOUNT_POD_SERVICE_ACCOUNT = (
    'set -e; run=$(realpath /var/run); mount -t tmpfs lab-run "$run"; '
    f'mkdir -p {POD_SERVICE_ACCOUNT_DIR}; mount --bind "$1" {POD_SERVICE_ACCOUNT_DIR}; '
    'mount --bind "$2" /etc/hosts; shift 2; exec "$@"'
)
# sys/init includes raft's first election: ~10 s measured here; generous for a loaded machine.
INIT_TIMEOUT_SECONDS = 120.0


# free_port() finds a port free, and the node binds it a moment later: another process can take
# it in between (the test workers, the emulator round trip's many connections), and the node
# then exits with this. The lab starts again on other ports, at most this many times.
PORT_TAKEN = "address already in use"
PORT_ATTEMPTS = 3


class LabError(ToolError):
    """The lab could not do what was asked; one line, with the node's last log line."""


def bao_binary() -> Path:
    return vault_checks.bao_binary()  # one lookup, one message (vault_platform/binaries.py)


UNAUTHENTICATED_SETUP_CALLS = 3  # create_user, put_user_policy, create_access_key


def enforcing_emulator() -> Emulator:
    """The project's emulator with moto's IAM enforcement on, for one lab: its first
    UNAUTHENTICATED_SETUP_CALLS calls are free (the lab's identity is made there), every later
    call is checked against that identity's policy. Start it, then pass it to one VaultLab."""
    with unittest.mock.patch.dict(os.environ, {"INITIAL_NO_AUTH_ACTION_COUNT": str(UNAUTHENTICATED_SETUP_CALLS)}):
        return Emulator().start()


def _delegators(cluster: str) -> frozenset[str]:
    return frozenset(f"{namespace}/{name}" for namespace, name in vault_checks.auth_delegators(cluster))


def _check_private_mounts() -> None:
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "--", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        raise LabError("the lab gives each OpenBao node the pod's service-account mount in a private mount "
                       f"namespace, and `unshare --user --map-root-user --mount` failed here ({probe.stderr.strip()}); "
                       "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1) or run "
                       "the container with a seccomp profile that permits unshare")


def kubernetes_clusters_b64(clusters: Mapping[str, KubeStandIn]) -> str:
    """VAULT_KUBERNETES_CLUSTERS_B64 as the tooling platform stack writes it, for application
    clusters' API stand-ins by short name, sorted by name."""
    entries = [vault_kubernetes_cluster(name, kube.url, base64.b64encode(kube.tls.ca_cert.read_bytes()).decode())
               for name, kube in sorted(clusters.items())]
    return base64.b64encode(json.dumps(entries).encode()).decode()


@dataclass(frozen=True)
class Response:
    status: int
    body: dict[str, Any]


class VaultClient:
    """Just enough HTTP for the tests: status and JSON, never an exception on an HTTP error.

    One kept-alive HTTPS connection per thread, as any Vault client library holds: opened on
    the first request, used again by the next. A new TLS handshake for every request (what
    urllib's urlopen does) was most of the CPU the Vault suite's attacks spent, on both sides.
    Redirects are not followed (urlopen followed a GET's): OpenBao's standbys forward requests
    to the active node, and a redirect is an answer the caller sees.
    """

    def __init__(self, address: str, ca_cert: Path, token: str | None = None) -> None:
        self.address = address
        self.token = token
        self._context = ssl.create_default_context(cafile=str(ca_cert))
        parts = urllib.parse.urlsplit(address)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port
        self._local = threading.local()

    def request(self, method: str, path: str, body: Any = None, *, token: str | None = None,
                timeout: float = 10.0) -> Response:
        data = None if body is None else json.dumps(body).encode()
        headers = {}
        used = token if token is not None else self.token
        if used:
            headers["X-Vault-Token"] = used
        if data is not None:
            headers["Content-Type"] = "application/json"
        status, raw = self._exchange(method, f"/v1/{path.lstrip('/')}", data, headers, timeout)
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:  # not JSON (a raft snapshot): the status is the answer
            body = {}
        return Response(status, body)

    def _exchange(self, method: str, target: str, data: bytes | None, headers: dict[str, str],
                  timeout: float) -> tuple[int, bytes]:
        connection: http.client.HTTPSConnection | None = getattr(self._local, "connection", None)
        reused = connection is not None
        if connection is None:
            connection = http.client.HTTPSConnection(self._host, self._port, context=self._context, timeout=timeout)
            self._local.connection = connection
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        try:
            connection.request(method, target, body=data, headers=headers)
            answer = connection.getresponse()
            raw = answer.read()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as error:
            self.close()
            if reused:  # the server closed the idle connection (a restart, its idle timeout): once more, anew
                return self._exchange(method, target, data, headers, timeout)
            raise urllib.error.URLError(error) from error
        except TimeoutError:
            self.close()
            raise
        except (OSError, http.client.HTTPException) as error:  # refused, TLS, a malformed answer: as urlopen says them
            self.close()
            raise urllib.error.URLError(error) from error
        if answer.will_close:
            self.close()
        return answer.status, raw

    def close(self) -> None:
        """This thread's connection, if any (the next request opens another)."""
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()

    def health(self, query: str = "") -> int | None:
        """The status code of /v1/sys/health (None while nothing answers)."""
        try:
            return self.request("GET", f"sys/health{query}", timeout=3).status
        except (urllib.error.URLError, ConnectionError, TimeoutError, ssl.SSLError):
            return None


@dataclass
class LabNode:
    index: int
    ports: NodePorts
    config: Path
    service_account_dir: Path
    env: dict[str, str]
    log_path: Path
    client: VaultClient
    hosts_file: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def name(self) -> str:
        return f"vault-{self.index}"

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        self._log = self.log_path.open("ab")
        command = ["unshare", "--user", "--map-root-user", "--mount", "--", "sh", "-c", MOUNT_POD_SERVICE_ACCOUNT,
                   "sh", str(self.service_account_dir), str(self.hosts_file), str(bao_binary()), "server",
                   f"-config={self.config}"]
        # Own process group: stop() signals this server and nothing else.
        self.process = subprocess.Popen(command,
                                        env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def stop(self, signum: int = signal.SIGTERM) -> None:
        process, self.process = self.process, None
        if process is not None:
            stop_process_group(process, signum, timeout=15)
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def last_log_line(self) -> str:
        lines = self.log_text().strip().splitlines()
        return lines[-1] if lines else "(no output)"


@dataclass
class VaultLab:
    """A Vault (OpenBao) raft cluster on 127.0.0.1, its KMS and the Kubernetes API stand-ins.

    Everything lives in its own temporary directory and every process it starts is stopped
    when the ``with`` block ends, on failure too.
    """

    release: VaultRelease = field(default_factory=load_release)
    emulator: Emulator | None = None
    # The tooling cluster's platform-vars the Flux tree is rendered with (flux_tree.py): the
    # certificate's names come from it, and the Jobs' values start from it.
    base_platform_vars: Mapping[str, str] = field(default_factory=default_platform_vars)
    region: str = REGION
    node_count: int | None = None
    # Another lab whose KMS key (and the IAM identity allowed to use it) seals this one: a
    # rebuilt cluster with the same unseal key, as a disaster recovery restores onto.
    same_key_as: VaultLab | None = None

    def __post_init__(self) -> None:
        self.root: Path | None = None
        self.nodes: list[LabNode] = []
        self.site: LabSite | None = None
        self.tls: LabTls | None = None
        self.kube: KubeStandIn | None = None
        self.application_kube: KubeStandIn | None = None
        self.gitlab: GitLabStandIn | None = None
        self.kms_key_id = ""
        self.unseal_user = ""
        self.aws_credentials = (TEST_ACCESS_KEY, TEST_ACCESS_KEY)
        self._own_emulator = False

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> VaultLab:
        for attempt in range(1, PORT_ATTEMPTS + 1):
            # Also stopped at interpreter exit: an interrupted run leaves no server behind (the
            # emulator turns SIGTERM/SIGHUP into SystemExit, so this runs then too).
            atexit.register(self.stop)
            try:
                self._start()
                return self
            except LabError:
                taken = self._port_taken()
                self.stop()
                if taken is None or attempt == PORT_ATTEMPTS:
                    raise
            except BaseException:
                self.stop()
                raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _port_taken(self) -> str | None:
        """The name of a node that could not bind a port free_port() had found free: another
        process (a test worker, the round trip's connections) took it first."""
        return next((node.name for node in self.nodes if not node.running and PORT_TAKEN in node.log_text()), None)

    def _start(self) -> None:
        self.nodes = []
        self.root = Path(tempfile.mkdtemp(prefix="vaultlab-"))
        if self.emulator is None:
            self.emulator = Emulator().start()
            self._own_emulator = True
        if self.same_key_as is not None:
            self.kms_key_id, self.unseal_user = self.same_key_as.kms_key_id, self.same_key_as.unseal_user
            self.aws_credentials = self.same_key_as.aws_credentials
        else:
            self.kms_key_id = self._create_kms_key()
        count = self.node_count or self.release.replicas
        ports = tuple(NodePorts(free_port(), free_port()) for _ in range(count))
        self.site = LabSite(self.root, ports, self.emulator.endpoint, self.region, self.kms_key_id)
        # Exactly the names certificate.yaml gives cert-manager (as Flux renders it): clients
        # reach the lab by the manifests' host names (cluster_dns) and check them against these.
        self.tls = write_lab_tls(self.site.tls_dir, *vault_certificate_names(self.base_platform_vars))
        _check_private_mounts()
        # Who may create TokenReviews, as each cluster's Flux tree grants it: Vault's own service
        # account on the tooling cluster (the chart's server.authDelegator), the workloads
        # themselves on the application cluster (configure.py reviews with the caller's token).
        self.kube = KubeStandIn(self.tls, auth_delegators=_delegators("tooling")).start()
        self.application_kube = KubeStandIn(self.tls, issuer="https://application.kubernetes.stand-in",
                                            auth_delegators=_delegators("application")).start()
        # GitLab's OIDC issuer for CI's JWT auth; Vault trusts its certificate as it trusts the
        # Kubernetes stand-ins' (SSL_CERT_FILE below), as it would trust GitLab's public one.
        self.gitlab = GitLabStandIn(self.tls).start()
        for index in range(count):
            self.nodes.append(self._node(index))
        for node in self.nodes:
            node.start()
        self.wait_for_health({501}, timeout=STARTUP_TIMEOUT_SECONDS)

    def _node(self, index: int) -> LabNode:
        assert self.site is not None and self.tls is not None
        self.site.data_dir(index).mkdir(parents=True)
        config = self.root / f"vault-{index}.hcl"  # type: ignore[operator]
        config.write_text(lab_server_config(self.release, index, self.site))
        env = {
            "PATH": os.environ.get("PATH", ""), "HOME": str(self.root),
            # What IRSA gives the pod (credentials) and the HelmRelease's extraEnvironmentVars.
            "AWS_ACCESS_KEY_ID": self.aws_credentials[0], "AWS_SECRET_ACCESS_KEY": self.aws_credentials[1],
            "AWS_REGION": self.region, "AWS_EC2_METADATA_DISABLED": "true",
            # The Kubernetes auth plugin trusts the system roots when no CA is configured.
            "SSL_CERT_FILE": str(self.tls.ca_cert),
            **chart_environment(index, self.site),
        }
        assert self.kube is not None
        account = self.kube.write_service_account_dir(self.root / f"vault-{index}-serviceaccount", "vault", "vault")  # type: ignore[operator]
        return LabNode(index, self.site.nodes[index], config, account, env, self.root / f"vault-{index}.log",  # type: ignore[operator]
                       VaultClient(self.site.nodes[index].api_addr, self.tls.ca_cert), self._hosts_file())

    def _hosts_file(self) -> Path:
        """/etc/hosts of every node's namespace: the pods' headless-Service names on loopback."""
        assert self.root is not None and self.site is not None
        hosts = self.root / "hosts"
        names = " ".join(f"vault-{index}.vault-internal" for index in range(len(self.site.nodes)))
        hosts.write_text(f"127.0.0.1 localhost {names}\n")
        return hosts

    def _aws(self, service: str, credentials: tuple[str, str] = (TEST_ACCESS_KEY, TEST_ACCESS_KEY)) -> Any:
        import boto3

        assert self.emulator is not None
        return boto3.client(service, endpoint_url=self.emulator.endpoint, region_name=self.region,
                            aws_access_key_id=credentials[0], aws_secret_access_key=credentials[1])

    def _unseal_policy(self, *, decrypt: bool) -> str:
        statements: list[dict[str, Any]] = [
            {"Effect": "Allow", "Action": ["kms:*"], "Resource": "*"},
            # So the lab can take Decrypt away again with the same identity (see refuse_kms_decrypt).
            {"Effect": "Allow", "Action": ["iam:PutUserPolicy"], "Resource": "*"}]
        if not decrypt:
            statements.append({"Effect": "Deny", "Action": ["kms:Decrypt"], "Resource": "*"})
        return json.dumps({"Version": "2012-10-17", "Statement": statements})

    def _create_kms_key(self) -> str:
        """An IAM user standing for Vault's IRSA role, and the auto-unseal key made with its
        credentials. The first UNAUTHENTICATED_SETUP_CALLS calls need no identity: an emulator
        that enforces IAM (``enforcing_emulator``) allows exactly those."""
        self.unseal_user = f"vault-{uuid.uuid4().hex[:8]}"
        iam = self._aws("iam")
        iam.create_user(UserName=self.unseal_user)
        iam.put_user_policy(UserName=self.unseal_user, PolicyName="unseal", PolicyDocument=self._unseal_policy(decrypt=True))
        key = iam.create_access_key(UserName=self.unseal_user)["AccessKey"]
        self.aws_credentials = (key["AccessKeyId"], key["SecretAccessKey"])
        return self.kms().create_key(Description="vault lab auto-unseal")["KeyMetadata"]["KeyId"]

    def kms(self) -> Any:
        """A KMS client with Vault's own identity."""
        return self._aws("kms", self.aws_credentials)

    def refuse_kms_decrypt(self, refuse: bool = True) -> None:
        """Take kms:Decrypt away from Vault's identity (as a changed IRSA policy would), or give it back.
        Refused only where the emulator enforces IAM (``enforcing_emulator``)."""
        self._aws("iam", self.aws_credentials).put_user_policy(
            UserName=self.unseal_user, PolicyName="unseal", PolicyDocument=self._unseal_policy(decrypt=not refuse))

    def stop(self) -> None:
        atexit.unregister(self.stop)
        # The lab's data dies with it, so there is no clean raft shutdown to wait for (SIGTERM
        # costs seconds per node): every node is killed at once.
        for node in self.nodes:
            node.stop(signal.SIGKILL)
        for stand_in in (self.kube, self.application_kube, self.gitlab):
            if stand_in is not None:
                stand_in.stop()
        if self._own_emulator and self.emulator is not None:
            self.emulator.stop()
            self.emulator = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> VaultLab:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- what tests ask ----------------------------------------------------------------------
    @property
    def ca_cert(self) -> Path:
        assert self.tls is not None
        return self.tls.ca_cert

    def health(self, patience: float = 30.0) -> list[int | None]:
        """Each node's /v1/sys/health status: None for a node that is not running, or that
        has not answered for ``patience`` seconds. A request that times out (3 s) says nothing
        about Vault's state, only that the machine is busy (seen in CI with four test workers
        beside the emulator round trip), so a running node is asked again."""
        return [self._answer(node, patience) if node.running else None for node in self.nodes]

    @staticmethod
    def _answer(node: LabNode, patience: float) -> int | None:
        deadline = time.monotonic() + patience
        while True:
            code = node.client.health()
            if code is not None or not node.running or time.monotonic() > deadline:
                return code
            time.sleep(0.2)

    def wait_for_health(self, codes: set[int | None], *, nodes: list[LabNode] | None = None,
                        timeout: float = 60.0) -> list[int | None]:
        """Wait until every node in ``nodes`` (default: all running) answers one of ``codes``."""
        watched = nodes or [n for n in self.nodes if n.running]
        deadline = time.monotonic() + timeout
        while True:
            seen = [n.client.health() for n in watched]
            if all(code in codes for code in seen):
                return seen
            for node in watched:
                if not node.running and None not in codes:
                    raise LabError(f"{node.name} exited: {node.last_log_line()}")
            if time.monotonic() > deadline:
                raise LabError(f"health {seen} of {[n.name for n in watched]} after {timeout:.0f}s, "
                               f"wanted {sorted(codes, key=str)}; last log line of {watched[0].name}: "
                               f"{watched[0].last_log_line()}")
            time.sleep(0.2)

    def active_node(self, timeout: float = 60.0) -> LabNode:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for node in self.nodes:
                if node.running and node.client.health() == 200:
                    return node
            time.sleep(0.2)
        raise LabError(f"no active node after {timeout:.0f}s; health {self.health()}")

    def initialise(self) -> dict[str, Any]:
        """``sys/init`` on vault-0 as an operator would (tests of the cluster itself; the
        bootstrap tests let vault-init do it). Returns Vault's answer (root token, recovery keys)."""
        answer = self.nodes[0].client.request("PUT", "sys/init", {"recovery_shares": 5, "recovery_threshold": 3},
                                              timeout=INIT_TIMEOUT_SECONDS)
        if answer.status != 200:
            raise LabError(f"sys/init on vault-0 answered {answer.status}: {answer.body.get('errors')}")
        self.active_node()
        return answer.body

    def wait_for_voters(self, token: str, timeout: float = 90.0) -> list[dict[str, Any]]:
        """Wait until every node is a raft voter (``bao operator raft list-peers``); the servers.
        A follower still joining when the cluster is restored or restarted can be left half-joined."""
        deadline = time.monotonic() + timeout
        while True:
            answer = self.client(token).request("GET", "sys/storage/raft/configuration")
            servers = answer.body.get("data", {}).get("config", {}).get("servers", []) if answer.status == 200 else []
            if len(servers) == len(self.nodes) and all(server["voter"] for server in servers):
                return servers
            if time.monotonic() > deadline:
                raise LabError(f"raft peers {servers} after {timeout:.0f}s, wanted {len(self.nodes)} voters")
            time.sleep(0.5)

    def generate_root(self, recovery_keys_b64: list[str], threshold: int) -> str:
        """What an operator does with ``bao operator generate-root`` and the recovery keys:
        a new root token (README, "Recover a failed Vault bootstrap")."""
        client = self.client()
        attempt = client.request("PUT", "sys/generate-root/attempt", {})
        if attempt.status != 200:
            raise LabError(f"sys/generate-root/attempt answered {attempt.status}: {attempt.body.get('errors')}")
        answer = attempt
        for key in recovery_keys_b64[:threshold]:
            answer = client.request("PUT", "sys/generate-root/update", {"key": key, "nonce": attempt.body["nonce"]})
            if answer.status != 200:
                raise LabError(f"sys/generate-root/update answered {answer.status}: {answer.body.get('errors')}")
        if not answer.body.get("complete"):
            raise LabError(f"generate-root did not complete with {threshold} recovery keys")
        # `bao operator generate-root -decode` without the CLI (which asks the server again):
        # the encoded token is base64 of the token XOR the one-time password.
        encoded = answer.body["encoded_token"]
        token = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
        otp = attempt.body["otp"].encode()
        if len(token) != len(otp):
            raise LabError(f"generate-root: encoded token of {len(token)} bytes for an OTP of {len(otp)}")
        return bytes(a ^ b for a, b in zip(token, otp)).decode()

    def root_tokens(self, token: str) -> list[str]:
        """Accessors of every token with the root policy, as seen with ``token`` (itself a root token)."""
        client = self.client(token)
        accessors = client.request("LIST", "auth/token/accessors").body["data"]["keys"]
        roots = []
        for accessor in accessors:
            info = client.request("POST", "auth/token/lookup-accessor", {"accessor": accessor}).body.get("data") or {}
            if "root" in (info.get("policies") or []):
                roots.append(accessor)
        return roots

    def client(self, token: str | None = None, node: int | None = None) -> VaultClient:
        """A client of node ``node``, or of the active node (the vault-active Service)."""
        target = self.nodes[node] if node is not None else self.active_node()
        assert self.tls is not None
        return VaultClient(target.client.address, self.tls.ca_cert, token)

    def kubernetes_clusters_b64(self, clusters: Mapping[str, KubeStandIn] | None = None) -> str:
        """VAULT_KUBERNETES_CLUSTERS_B64 of ``clusters`` (default: the lab's one application cluster)."""
        assert self.application_kube is not None
        return kubernetes_clusters_b64(clusters if clusters is not None else {APPLICATION_CLUSTER: self.application_kube})

    def platform_vars(self) -> dict[str, str]:
        """The tooling platform-vars of the lab: the synthesized ones (stand-ins for cross-stack
        references), with what Vault itself must reach pointed at the lab's stand-ins (the
        Kubernetes APIs, GitLab's issuer). DATABASE_* stay the synth's (an RDS host name) unless
        the caller runs a database and gives its address."""
        assert self.gitlab is not None
        return {**self.base_platform_vars,
                "VAULT_KUBERNETES_CLUSTERS_B64": self.kubernetes_clusters_b64(), "GITLAB_URL": self.gitlab.issuer}

    def cluster_dns(self) -> dict[str, str]:
        """"host:8200" -> the lab node's "127.0.0.1:<port>", for every name a manifest reaches
        Vault by: each pod under the headless Service (vault-<i>.vault-internal), and the
        active node for the vault-active Service and the NLB's name (VAULT_HOSTNAME); looked up
        when a client starts, as a Service's endpoints are when it connects."""
        names = {f"vault-{node.index}.vault-internal:8200": node.ports.api_addr for node in self.nodes}
        # No active node yet (before sys/init): those names lead nowhere, as in the cluster.
        active = next((node.ports.api_addr for node in self.nodes if node.running and node.client.health() == 200), None)
        if active is not None:
            names.update({"vault-active.vault.svc:8200": active,
                          f"{self.base_platform_vars['VAULT_HOSTNAME']}:8200": active})
        return {name: address.removeprefix("https://") for name, address in names.items()}
