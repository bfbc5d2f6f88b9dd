"""Demo service: answers HTTP and logs, every minute, which database user it holds.

The Vault Agent rewrites /vault/secrets/db-creds when Vault issues a new user, so the
logged name changes on its own: that is the rotation to watch. The password is never
logged.
"""

import http.server
import threading
import time

CREDS = "/vault/secrets/db-creds"


def current_user():
    try:
        with open(CREDS) as f:
            for line in f:
                if line.startswith("DB_USERNAME="):
                    return line.split("=", 1)[1].strip()
    except OSError as err:
        return f"<unreadable: {err.strerror}>"
    return "<none>"


def log_user_every_minute():
    while True:
        print(f"current database user: {current_user()}", flush=True)
        time.sleep(60)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        if self.path != "/healthz":
            super().log_message(fmt, *args)


if __name__ == "__main__":
    threading.Thread(target=log_user_every_minute, daemon=True).start()
    http.server.ThreadingHTTPServer(("", 8080), Handler).serve_forever()
