"""The project's own Node.js for the jsii runtime, whoever starts the app.

jsii starts its kernel as ``node`` from PATH (or ``$JSII_NODE``) at the first import of
cdktf. ``make`` and ``npx cdktf`` put ``node_modules/.bin`` first, but ``python main.py``
run directly would pick up the machine's Node (which may be an end-of-life version that
jsii warns about in 15 lines of output). ``node_modules/.bin/node`` comes from the npm
``node`` package that package.json pins (Node 22).

The jsii runtime also warns about its own use of deprecated Node APIs on every run; that says
nothing to a user of this project, so NODE_OPTIONS defaults to ``--no-deprecation``. Set
NODE_OPTIONS yourself (to anything) to see those warnings.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

from vault_platform.binaries import NODE_BIN, locate

PROJECT_BIN = NODE_BIN
NODE_OPTIONS = "NODE_OPTIONS"
QUIET_NODE_OPTIONS = "--no-deprecation"


def prefer_project_node(environ: MutableMapping[str, str] = os.environ, project_bin: Path = PROJECT_BIN) -> bool:
    """Put ``project_bin`` first on PATH when it holds a ``node``; True when PATH changed.
    Must run before anything imports jsii (``vault_platform/__init__.py`` calls it)."""
    if locate("node", [project_bin], on_path=False) is None:
        return False  # not installed yet: the machine's node, and jsii's own message if it is too old
    entries = environ.get("PATH", "").split(os.pathsep)
    if entries and entries[0] == str(project_bin):
        return False
    environ["PATH"] = os.pathsep.join([str(project_bin), *(e for e in entries if e and e != str(project_bin))])
    return True


def quiet_node_warnings(environ: MutableMapping[str, str] = os.environ) -> None:
    """NODE_OPTIONS ``--no-deprecation`` unless the user set NODE_OPTIONS. Must run before
    anything starts Node (``vault_platform/__init__.py`` calls it): jsii's Node reads it then."""
    environ.setdefault(NODE_OPTIONS, QUIET_NODE_OPTIONS)
