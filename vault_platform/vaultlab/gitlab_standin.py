"""A stand-in for GitLab's OIDC issuer: the discovery document and the keys, nothing more.

No GitLab runs here. Vault's JWT auth needs only what GitLab documents for CI/CD ID tokens
(https://docs.gitlab.com/ci/secrets/id_token_authentication/): the issuer is the instance URL,
``<issuer>/.well-known/openid-configuration`` is its OpenID discovery document and
``<issuer>/oauth/discovery/keys`` its JWKS. This HTTPS server on 127.0.0.1 (the lab's
certificate) serves exactly those two documents for an RSA key made here, and ``id_token``
signs tokens with the claims a GitLab job's ``id_tokens`` carry. It runs no pipeline, knows no
project, and signs whatever a test asks for: the tests decide which claims are GitLab's.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from vault_platform.vaultlab.standin import HttpsStandIn, RsaSigner
from vault_platform.vaultlab.tls import LabTls

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/oauth/discovery/keys"
# GitLab's default lifetime of an ID token (the job's timeout, 1 h by default).
TOKEN_LIFETIME_SECONDS = 3600


@dataclass
class GitLabStandIn(HttpsStandIn):
    tls: LabTls
    name = "gitlab-stand-in"

    def __post_init__(self) -> None:
        self._signer = RsaSigner()

    @property
    def issuer(self) -> str:
        return self.url

    def handle(self, method: str, path: str, bearer: str | None, body: Any) -> tuple[int, dict[str, Any]]:
        path = path.split("?", 1)[0]
        if method == "GET" and path == DISCOVERY_PATH:
            return 200, {
                "issuer": self.issuer,
                "jwks_uri": f"{self.issuer}{JWKS_PATH}",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "project_path",
                                     "namespace_path", "ref", "ref_type", "ref_protected"],
            }
        if method == "GET" and path == JWKS_PATH:
            return 200, {"keys": [self._signer.jwk()]}
        return 404, {"message": "404 Not Found"}

    def id_token(self, project_path: str, ref: str, *, aud: str, ref_type: str = "branch", ref_protected: bool = True,
                 expires_in: int = TOKEN_LIFETIME_SECONDS, project_id: str = "1") -> str:
        """A job's ID token with GitLab's claim shape (ref_protected is the string "true"/"false")."""
        now = int(time.time())
        namespace_path = project_path.rsplit("/", 1)[0]
        claims = {
            "iss": self.issuer, "aud": aud, "iat": now, "nbf": now, "exp": now + expires_in,
            "jti": str(uuid.uuid4()),
            "sub": f"project_path:{project_path}:ref_type:{ref_type}:ref:{ref}",
            "namespace_id": "1", "namespace_path": namespace_path,
            "project_id": project_id, "project_path": project_path,
            "user_id": "1", "user_login": "ci-user", "user_email": "ci-user@example.com",
            "pipeline_id": "1", "pipeline_source": "push", "job_id": "1",
            "ref": ref, "ref_type": ref_type, "ref_path": f"refs/{'heads' if ref_type == 'branch' else 'tags'}/{ref}",
            "ref_protected": "true" if ref_protected else "false",
            "runner_id": 1, "runner_environment": "self-hosted", "sha": "0" * 40,
        }
        return self._signer.sign(claims)
