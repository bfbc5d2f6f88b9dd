"""Tiny clients for Vault's HTTP API and the Kubernetes API, standard library only.

The bootstrap Jobs run on a plain pinned python image: no vault CLI, no kubectl, no pip.
Nothing here prints a secret; errors name the path and status, never a body.
"""

import base64
import json
import os
import ssl
import time
import urllib.error
import urllib.request

# Where a pod finds its service account and the API server. Both can be moved by environment
# only so that the test lab (vault_platform/vaultlab) can run these scripts unchanged against
# its Kubernetes API stand-in; in a pod neither variable is set and the defaults apply.
SA_DIR = os.environ.get("KUBE_SERVICE_ACCOUNT_DIR", "/var/run/secrets/kubernetes.io/serviceaccount")
KUBE_API_URL = os.environ.get("KUBE_API_URL", "https://kubernetes.default.svc")


class ApiError(Exception):
    def __init__(self, method, url, status):
        super().__init__(f"{method} {url} -> HTTP {status}")
        self.status = status


def _request(ctx, method, url, headers, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as err:
        raise ApiError(method, url, err.code) from None
    return json.loads(raw) if raw else {}


class Vault:
    def __init__(self, addr=None, cacert=None, token=None):
        self.addr = (addr or os.environ["VAULT_ADDR"]).rstrip("/")
        self.ctx = ssl.create_default_context(cafile=cacert or os.environ["VAULT_CACERT"])
        self.token = token

    def call(self, method, path, body=None):
        headers = {"X-Vault-Token": self.token} if self.token else {}
        return _request(self.ctx, method, f"{self.addr}/v1/{path}", headers, body)

    def read(self, path):
        """The response of GET path, or None when Vault has nothing there."""
        try:
            return self.call("GET", path)
        except ApiError as err:
            if err.status == 404:
                return None
            raise

    def write(self, path, body):
        return self.call("POST", path, body)

    def wait_until_reachable(self, attempts=60, pause=5):
        for _ in range(attempts):
            try:
                return self.call("GET", "sys/init")
            except (ApiError, OSError) as err:
                print(f"waiting for {self.addr}: {err}", flush=True)
                time.sleep(pause)
        raise SystemExit(f"{self.addr} did not answer; is the vault HelmRelease ready?")

    def wait_until_active(self, attempts=60, pause=5):
        """Wait until this node is unsealed and the cluster has an active node.

        Unsealed is not enough: right after sys/init, raft's first election is still running
        and every write answers 500 (local node not active but active cluster node not found);
        the first real bootstrap crashed exactly there. A standby forwards to the active node,
        so a known leader is what the next write needs."""
        for _ in range(attempts):
            if self.call("GET", "sys/seal-status")["sealed"]:
                print("waiting for the awskms auto-unseal", flush=True)
            elif self.call("GET", "sys/leader").get("leader_address"):
                return
            else:
                print("unsealed; waiting for raft to elect an active node", flush=True)
            time.sleep(pause)
        raise SystemExit("Vault has no active node: if it stayed sealed, check the KMS key policy "
                         "and VAULT_ROLE_ARN; else check the raft peers (vault operator raft list-peers)")

    def login_status(self, mount, role):
        """The HTTP status of one Kubernetes login with this pod's own token (no token kept)."""
        with open(f"{SA_DIR}/token") as f:
            jwt = f.read()
        try:
            self.write(f"auth/{mount}/login", {"role": role, "jwt": jwt})
            return 200
        except ApiError as err:
            return err.status

    def login_kubernetes(self, mount, role, attempts=60, pause=10):
        """Log in; retried because the role appears only once the init Job has run."""
        with open(f"{SA_DIR}/token") as f:
            jwt = f.read()
        for _ in range(attempts):
            try:
                auth = self.write(f"auth/{mount}/login", {"role": role, "jwt": jwt})["auth"]
                self.token = auth["client_token"]
                return
            except ApiError as err:
                print(f"login as {role} failed ({err}); waiting for the init Job", flush=True)
                time.sleep(pause)
        raise SystemExit(f"could not log in as {role}: did the vault-init Job finish?")

    def ensure_mount(self, path, body):
        mounts = self.call("GET", "sys/mounts")
        mounts = mounts.get("data", mounts)
        if f"{path}/" in mounts:
            return False
        self.write(f"sys/mounts/{path}", body)
        return True

    def ensure_auth(self, path, kind):
        auths = self.call("GET", "sys/auth")
        auths = auths.get("data", auths)
        if f"{path}/" in auths:
            return False
        self.write(f"sys/auth/{path}", {"type": kind})
        return True


class Kube:
    """Namespaced Secret access for the Job's own service account."""

    def __init__(self):
        self.base = KUBE_API_URL
        self.ctx = ssl.create_default_context(cafile=f"{SA_DIR}/ca.crt")
        with open(f"{SA_DIR}/token") as f:
            self.headers = {"Authorization": f"Bearer {f.read()}"}
        with open(f"{SA_DIR}/namespace") as f:
            self.namespace = f.read().strip()

    def _url(self, name=""):
        return f"{self.base}/api/v1/namespaces/{self.namespace}/secrets/{name}".rstrip("/")

    def get_secret(self, name):
        try:
            return _request(self.ctx, "GET", self._url(name), self.headers)
        except ApiError as err:
            if err.status == 404:
                return None
            raise

    def create_secret(self, name, labels):
        body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": name, "labels": labels}}
        return _request(self.ctx, "POST", self._url(), self.headers, body)

    def put_secret_data(self, secret, data):
        secret["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        return _request(self.ctx, "PUT", self._url(secret["metadata"]["name"]),
                        self.headers, secret)

    def delete_secret(self, name):
        return _request(self.ctx, "DELETE", self._url(name), self.headers)
