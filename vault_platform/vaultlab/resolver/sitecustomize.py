"""The lab's cluster DNS, inside a Job's Python process (put on its PYTHONPATH by the lab).

A pod reaches Vault by the names its manifest gives (``vault-0.vault-internal``,
``vault-active.vault.svc``, ``vault.<private zone>``), each on port 8200. Here each such
``host:port`` in ``VAULTLAB_RESOLVE`` (JSON: "host:port" -> "127.0.0.1:<lab port>") resolves
to the lab node that plays it. Only the address lookup changes: the script still asks for
the manifest's URL, and Python's ssl still checks the certificate for that host name
(``server_hostname`` is the URL's host), with OpenSSL's rules, as in the pod.
"""

import json
import os
import socket

_HOSTS = json.loads(os.environ.get("VAULTLAB_RESOLVE") or "{}")

if _HOSTS:
    _system_getaddrinfo = socket.getaddrinfo

    def _lab_getaddrinfo(host, port, *args, **kwargs):
        target = _HOSTS.get(f"{host}:{port}")
        if target is None:
            return _system_getaddrinfo(host, port, *args, **kwargs)
        address, _, lab_port = target.rpartition(":")
        return _system_getaddrinfo(address, int(lab_port), *args, **kwargs)

    socket.getaddrinfo = _lab_getaddrinfo
