"""What every stand-in of the lab shares: RS256 tokens signed by a key made here, and serving
JSON over HTTPS on 127.0.0.1 with the lab's certificate.

A stand-in stands for a service that cannot run on this machine (the Kubernetes API,
GitLab's OIDC issuer); each one answers only the calls its module documents.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from vault_platform.ops.emulator import HOST
from vault_platform.vaultlab.tls import LabTls


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class RsaSigner:
    """One RSA key pair: RS256 JWTs (RFC 7515/7519), their check, and the public key as a JWK."""

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_id = uuid.uuid4().hex

    def sign(self, claims: dict[str, Any]) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": self.key_id}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a token this key signed and that has not expired, else None."""
        try:
            header, payload, signature = token.strip().split(".")
            self._key.public_key().verify(b64url_decode(signature), f"{header}.{payload}".encode(),
                                          padding.PKCS1v15(), hashes.SHA256())
            claims: dict[str, Any] = json.loads(b64url_decode(payload))
        except Exception:  # any malformed or foreign token is simply unauthenticated
            return None
        return claims if claims.get("exp", 0) > time.time() else None

    @property
    def public_key_pem(self) -> str:
        return self._key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def jwk(self) -> dict[str, str]:
        """The public key as a JSON Web Key (RFC 7517), as a JWKS endpoint lists it."""
        numbers = self._key.public_key().public_numbers()

        def unsigned(value: int) -> str:
            return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))

        return {"kty": "RSA", "kid": self.key_id, "use": "sig", "alg": "RS256",
                "n": unsigned(numbers.n), "e": unsigned(numbers.e)}


class HttpsStandIn:
    """Serves ``handle(method, path, bearer, body) -> (status, JSON)`` over HTTPS on 127.0.0.1,
    with the lab's certificate (signed by the lab CA that Vault and the Jobs trust)."""

    tls: LabTls
    name = "stand-in"

    def handle(self, method: str, path: str, bearer: str | None, body: Any) -> tuple[int, dict[str, Any]]:
        raise NotImplementedError

    def served(self, method: str, path: str, status: int) -> None:
        """Called after each answer (a stand-in that keeps a request log overrides it)."""

    @property
    def url(self) -> str:
        server = getattr(self, "_server", None)
        if server is None:
            raise RuntimeError(f"the {self.name} is not running; use it inside `with ...`")
        return f"https://{HOST}:{server.server_address[1]}"

    def start(self):  # type: ignore[no-untyped-def] - returns the subclass
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                auth = self.headers.get("Authorization", "")
                bearer = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
                status, answer = stand_in.handle(self.command, self.path, bearer, body)
                stand_in.served(self.command, self.path, status)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = _serve

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer((HOST, 0), Handler)
        server.daemon_threads = True
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.tls.cert, self.tls.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server: ThreadingHTTPServer | None = server
        threading.Thread(target=server.serve_forever, name=self.name, daemon=True).start()
        return self

    def stop(self) -> None:
        server, self._server = getattr(self, "_server", None), None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self):  # type: ignore[no-untyped-def]
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
