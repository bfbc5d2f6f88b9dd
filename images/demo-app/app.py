"""Demo service: answers each request from PostgreSQL with the short-lived login Vault issued.

How an application lives with dynamic credentials (seed 002, "application integration"):
- the Vault Agent renders DB_USERNAME/DB_PASSWORD into a file and re-renders it when Vault
  issues a new user (before the old one's max_ttl); the app never talks to Vault itself;
- the app re-reads the file when it changes (checked at most every CHECK_SECONDS) and
  reconnects as the new user;
- when Vault drops the old user under an open session (the session survives in PostgreSQL,
  but every use of the dropped role fails), or the connection breaks, the app re-reads the
  file, reconnects and retries the request once, so callers see no error across rotations.
GET / answers the database user and server time; GET /healthz answers 200 once a query worked.
The password is never logged. Driver: pg8000 (pure Python), baked into the image from
requirements.txt (pinned, hash-checked) by the Containerfile beside this file.
"""


import http.server
import json
import os
import ssl
import threading
import time

import pg8000.native

CREDENTIALS_FILE = os.environ.get("DB_CREDENTIALS_FILE", "/vault/secrets/db-creds")
CHECK_SECONDS = float(os.environ.get("CREDENTIALS_CHECK_SECONDS", "10"))
# All interfaces in the pod; a test sets 127.0.0.1.
LISTEN_HOST = os.environ.get("LISTEN_HOST", "")
LISTEN_PORT = int(os.environ.get("LISTEN_PORT", "8080"))
QUERY = "SELECT current_user, now()"


def read_credentials(path=CREDENTIALS_FILE):
    """(username, password) from the agent's file, or None while it is missing or half-written."""
    values = {}
    try:
        with open(path) as f:
            for line in f:
                key, sep, value = line.strip().partition("=")
                if sep:
                    values[key] = value
    except OSError:
        return None
    if values.get("DB_USERNAME") and values.get("DB_PASSWORD"):
        return values["DB_USERNAME"], values["DB_PASSWORD"]
    return None


def tls_context():
    """TLS always (RDS runs with rds.force_ssl). With DATABASE_CA_FILE the server is verified
    (verify-full); without it the link is encrypted but the server unverified, as Vault's own
    connection (sslmode=require): the RDS CA bundle is not mounted in the pod yet."""
    ca_file = os.environ.get("DATABASE_CA_FILE")
    if ca_file:
        return ssl.create_default_context(cafile=ca_file)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class Database:
    """One connection, as the user in the credentials file; replaced when that user changes."""

    def __init__(self):
        self.lock = threading.Lock()
        self.connection = None
        self.user = None
        self.checked_at = 0.0

    def _connect(self, credentials):
        self._close()
        username, password = credentials
        self.connection = pg8000.native.Connection(
            username, password=password, host=os.environ["DATABASE_HOST"],
            port=int(os.environ.get("DATABASE_PORT", "5432")), database=os.environ["DATABASE_NAME"],
            ssl_context=tls_context(), timeout=10)
        self.user = username
        print(f"connected as database user {username}", flush=True)

    def _close(self):
        if self.connection is not None:
            try:
                self.connection.close()
            except Exception:  # the server may have closed it first; nothing to keep
                pass
        self.connection = None

    def _follow_file(self, force=False):
        """Reconnect when the agent has rendered a different user (or when forced)."""
        now = time.monotonic()
        if not force and self.connection is not None and now - self.checked_at < CHECK_SECONDS:
            return
        self.checked_at = now
        credentials = read_credentials()
        if credentials is None:
            raise RuntimeError(f"no credentials in {CREDENTIALS_FILE} yet")
        if force or self.connection is None or credentials[0] != self.user:
            self._connect(credentials)

    def query(self):
        with self.lock:
            try:
                self._follow_file()
                return self.connection.run(QUERY)[0]
            except (pg8000.native.DatabaseError, pg8000.native.InterfaceError, OSError) as err:
                # e.g. "invalid role OID" once Vault dropped our user, or a broken connection
                print(f"query as {self.user} failed ({type(err).__name__}); re-reading "
                      f"{CREDENTIALS_FILE} and reconnecting", flush=True)
                self._follow_file(force=True)
                return self.connection.run(QUERY)[0]


DATABASE = Database()
HEALTHY = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            self._answer(200 if HEALTHY.is_set() else 503, {"ok": HEALTHY.is_set()})
            return
        try:
            user, server_time = DATABASE.query()
        except Exception as err:  # one line to the log; the caller gets 503, never a trace
            print(f"request failed: {type(err).__name__}: {err}", flush=True)
            self._answer(503, {"error": "database unavailable"})
            return
        HEALTHY.set()
        self._answer(200, {"user": user, "server_time": server_time.isoformat()})

    def _answer(self, status, payload):
        body = json.dumps(payload).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        if self.path != "/healthz":
            super().log_message(fmt, *args)


def warm_up():
    """Connect before the first request, so the readiness probe turns green on its own."""
    while not HEALTHY.is_set():
        try:
            DATABASE.query()
            HEALTHY.set()
        except Exception as err:
            print(f"waiting for the database: {type(err).__name__}: {err}", flush=True)
            time.sleep(2)


if __name__ == "__main__":
    threading.Thread(target=warm_up, daemon=True).start()
    http.server.ThreadingHTTPServer((LISTEN_HOST, LISTEN_PORT), Handler).serve_forever()
