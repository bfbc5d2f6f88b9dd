"""A Kubernetes API stand-in: the few calls vault-init, vault-configure and Vault make, nothing more.

No Kubernetes API can run here, so this small HTTPS server answers, as the real API server
documents them (https://kubernetes.io/docs/reference/kubernetes-api/), only:

- namespaced Secrets: ``GET``/``PUT``/``DELETE /api/v1/namespaces/<ns>/secrets/<name>`` and
  ``POST /api/v1/namespaces/<ns>/secrets`` (404 NotFound, 409 AlreadyExists / Conflict on a stale
  ``resourceVersion``), authorised by the Roles and RoleBindings of
  ``flux/infrastructure/vault-config/rbac.yaml`` with RBAC's rules: a rule with
  ``resourceNames`` never matches ``create`` (the name is not known when it is authorised),
  and whatever no rule grants is 403 Forbidden;
- ``POST /apis/authentication.k8s.io/v1/tokenreviews`` for the RS256 service-account tokens
  it issues itself (``service_account_token``); the caller must itself hold a valid token of a
  service account bound to ``system:auth-delegator`` (``auth_delegators``).

It is not a Kubernetes API: no watch, no list, no other resource, no admission. Faults can be
injected (``fail``) to crash a bootstrap Job at a chosen call.
"""

from __future__ import annotations

import base64
import copy
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from vault_platform.gitops.vault_checks import VAULT_CONFIG_DIR
from vault_platform.vaultlab.standin import HttpsStandIn, RsaSigner
from vault_platform.vaultlab.tls import LabTls

RBAC_FILE = VAULT_CONFIG_DIR / "rbac.yaml"
# What a bound service-account token carries in a cluster whose API server is reached in-cluster.
IN_CLUSTER_ISSUER = "https://kubernetes.default.svc"
TOKEN_LIFETIME_SECONDS = 3600
SECRET_PATH = re.compile(r"^/api/v1/namespaces/(?P<ns>[a-z0-9-]+)/secrets(?:/(?P<name>[a-z0-9.-]+))?$")
TOKEN_REVIEW_PATH = "/apis/authentication.k8s.io/v1/tokenreviews"


@dataclass(frozen=True)
class RbacRule:
    verbs: frozenset[str]
    resources: frozenset[str]
    resource_names: frozenset[str]

    def allows(self, verb: str, resource: str, name: str) -> bool:
        if verb not in self.verbs or resource not in self.resources:
            return False
        return not self.resource_names or name in self.resource_names


def load_rbac(path: Path = RBAC_FILE) -> dict[str, tuple[RbacRule, ...]]:
    """Rules per service account ("<ns>/<name>") from Roles and RoleBindings in ``path``.

    The file is applied into namespace ``vault`` by its kustomization (``namespace: vault``)."""
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    namespace = "vault"
    roles = {d["metadata"]["name"]: d.get("rules", []) for d in documents if d["kind"] == "Role"}
    granted: dict[str, tuple[RbacRule, ...]] = {}
    for binding in (d for d in documents if d["kind"] == "RoleBinding"):
        rules = roles[binding["roleRef"]["name"]]
        for subject in binding["subjects"]:
            if subject["kind"] != "ServiceAccount":
                continue
            key = f"{subject.get('namespace', namespace)}/{subject['name']}"
            granted[key] = granted.get(key, ()) + tuple(
                RbacRule(frozenset(r["verbs"]), frozenset(r["resources"]), frozenset(r.get("resourceNames", [])))
                for r in rules if "" in r.get("apiGroups", []))
    return granted


@dataclass
class Fault:
    """For the next ``times`` requests ``method path``: run ``action`` (if any), then answer
    ``status``, or, with ``status=None``, do the request and then answer as usual."""

    method: str
    path: str
    status: int | None = 500
    times: int = 1
    action: Callable[[], None] | None = None


@dataclass
class KubeStandIn(HttpsStandIn):
    """The stand-in as a context manager::

        with KubeStandIn(tls) as kube:
            kube.write_service_account_dir(path, "vault", "vault-init")
    """

    tls: LabTls
    rbac: dict[str, tuple[RbacRule, ...]] = field(default_factory=load_rbac)
    auth_delegators: frozenset[str] = frozenset()
    issuer: str = IN_CLUSTER_ISSUER
    secrets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)

    name = "kube-stand-in"

    def __post_init__(self) -> None:
        self._signer = RsaSigner()
        self._lock = threading.Lock()
        self._resource_version = 0

    # --- tokens -------------------------------------------------------------------------
    def service_account_token(self, namespace: str, name: str, *, audience: str | None = None) -> str:
        """An RS256 JWT with the claims of a Kubernetes bound service-account token."""
        now = int(time.time())
        claims = {
            "iss": self.issuer, "sub": f"system:serviceaccount:{namespace}:{name}",
            "aud": [audience or self.issuer], "iat": now, "nbf": now, "exp": now + TOKEN_LIFETIME_SECONDS,
            "kubernetes.io": {"namespace": namespace,
                              "serviceaccount": {"name": name, "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{namespace}/{name}"))}},
        }
        return self._signer.sign(claims)

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a token this stand-in issued and that has not expired, else None."""
        return self._signer.verify(token)

    @property
    def public_key_pem(self) -> str:
        return self._signer.public_key_pem

    def write_service_account_dir(self, directory: Path, namespace: str, name: str) -> Path:
        """What the kubelet mounts at /var/run/secrets/kubernetes.io/serviceaccount."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "token").write_text(self.service_account_token(namespace, name))
        (directory / "ca.crt").write_bytes(self.tls.ca_cert.read_bytes())
        (directory / "namespace").write_text(namespace)
        return directory

    # --- faults ---------------------------------------------------------------------------
    def fail(self, method: str, path: str, *, status: int | None = 500, times: int = 1,
             action: Callable[[], None] | None = None) -> Fault:
        fault = Fault(method, path, status, times, action)
        with self._lock:
            self.faults.append(fault)
        return fault

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.method == method and fault.path == path and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    # --- the API ----------------------------------------------------------------------------
    def secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        """A stored Secret's data, decoded (as ``kubectl get secret -o jsonpath`` + base64 -d)."""
        secret = self.secrets.get((namespace, name))
        if secret is None:
            return None
        return {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}

    def put_secret(self, namespace: str, name: str, data: dict[str, str]) -> None:
        """What an operator's ``kubectl create secret generic`` does (cluster-admin, no RBAC check)."""
        with self._lock:
            self._resource_version += 1
            self.secrets[(namespace, name)] = {
                "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": name, "namespace": namespace, "resourceVersion": str(self._resource_version)},
                "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}

    def handle(self, method: str, path: str, bearer: str | None, body: Any) -> tuple[int, dict[str, Any]]:
        path = path.split("?", 1)[0]
        fault = self._take_fault(method, path)
        if fault is not None and fault.status is not None:
            if fault.action is not None:
                fault.action()
            return fault.status, _status(fault.status, "InternalError", "injected fault")
        answer = self._handle(method, path, bearer, body)
        if fault is not None and fault.action is not None:
            fault.action()
        return answer

    def _handle(self, method: str, path: str, bearer: str | None, body: Any) -> tuple[int, dict[str, Any]]:
        claims = self.verify(bearer) if bearer else None
        if claims is None:
            return 401, _status(401, "Unauthorized", "Unauthorized")
        account = f"{claims['kubernetes.io']['namespace']}/{claims['kubernetes.io']['serviceaccount']['name']}"
        if path == TOKEN_REVIEW_PATH and method == "POST":
            return self._token_review(account, body)
        match = SECRET_PATH.match(path)
        if not match:
            return 404, _status(404, "NotFound", "the server could not find the requested resource")
        namespace, name = match["ns"], match["name"] or ""
        verb = {"GET": "get", "PUT": "update", "DELETE": "delete", "POST": "create"}.get(method)
        if verb is None or (verb == "create") != (name == ""):
            return 405, _status(405, "MethodNotAllowed", f"{method} is not supported here")
        if verb == "create":
            name = (body or {}).get("metadata", {}).get("name", "")
            allowed = any(r.allows(verb, "secrets", "") for r in self._rules(account, namespace))
        else:
            allowed = any(r.allows(verb, "secrets", name) for r in self._rules(account, namespace))
        if not allowed:
            return 403, _status(403, "Forbidden", f'secrets "{name}" is forbidden: User '
                                f'"system:serviceaccount:{account.replace("/", ":")}" cannot {verb} '
                                f'resource "secrets" in API group "" in the namespace "{namespace}"')
        return self._secrets(verb, namespace, name, body)

    def _rules(self, account: str, namespace: str) -> tuple[RbacRule, ...]:
        # A Role grants in its own namespace (the kustomization's ``vault``) only.
        return self.rbac.get(account, ()) if namespace == "vault" else ()

    def _secrets(self, verb: str, namespace: str, name: str, body: Any) -> tuple[int, dict[str, Any]]:
        key = (namespace, name)
        with self._lock:
            current = self.secrets.get(key)
            if verb == "get":
                return (200, copy.deepcopy(current)) if current else (404, _not_found(name))
            if verb == "delete":
                if not current:
                    return 404, _not_found(name)
                del self.secrets[key]
                return 200, _status(200, "Success", "deleted")
            if verb == "create" and current:
                return 409, _status(409, "AlreadyExists", f'secrets "{name}" already exists')
            if verb == "update":
                if not current:
                    return 404, _not_found(name)
                sent_version = (body.get("metadata") or {}).get("resourceVersion")
                if sent_version and sent_version != current["metadata"]["resourceVersion"]:
                    return 409, _status(409, "Conflict", f'Operation cannot be fulfilled on secrets "{name}": '
                                        "the object has been modified")
            self._resource_version += 1
            stored = copy.deepcopy(body)
            stored.setdefault("metadata", {}).update(
                {"name": name, "namespace": namespace, "resourceVersion": str(self._resource_version)})
            self.secrets[key] = stored
            return (201 if verb == "create" else 200), copy.deepcopy(stored)

    def _token_review(self, account: str, body: Any) -> tuple[int, dict[str, Any]]:
        if account not in self.auth_delegators:
            return 403, _status(403, "Forbidden", f'User "system:serviceaccount:{account.replace("/", ":")}" '
                                'cannot create resource "tokenreviews" in API group "authentication.k8s.io"')
        reviewed = self.verify(((body or {}).get("spec") or {}).get("token", ""))
        status: dict[str, Any] = {"authenticated": False}
        if reviewed is not None:
            sa = reviewed["kubernetes.io"]
            status = {
                "authenticated": True,
                "user": {"username": reviewed["sub"], "uid": sa["serviceaccount"]["uid"],
                         "groups": ["system:serviceaccounts", f"system:serviceaccounts:{sa['namespace']}",
                                    "system:authenticated"]},
                "audiences": reviewed["aud"],
            }
        return 201, {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                     "spec": (body or {}).get("spec", {}), "status": status}

    def served(self, method: str, path: str, status: int) -> None:
        self.requests.append((method, path, status))


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Status", "status": "Success" if code < 400 else "Failure",
            "message": message, "reason": reason, "code": code}


def _not_found(name: str) -> dict[str, Any]:
    return _status(404, "NotFound", f'secrets "{name}" not found')
