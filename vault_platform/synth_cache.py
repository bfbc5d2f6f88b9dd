"""Skip a synth whose every input is unchanged since the output in its outdir was written.

A synth is a pure function of its inputs: the project's source and data files, the
environment files, the ``flux/`` tree (read for the platform-vars contract and chart pins),
the lock files (which fix cdktf, the provider bindings and the jsii runtime), the flags, a
few environment variables, the interpreter and Node versions, and the date (validation
refuses EKS versions by the calendar). ``key()`` hashes all of
them; a finished synth stores the key beside its output (``STAMP``, written into the staging
directory before the swap, so a stamp always belongs to the output it sits in). The next
synth into the same outdir with the same key and an output whose files still hash as
written prints the stored summary instead of starting the jsii runtime.

An input left out of the key is a stale-output bug, so the key is wide by construction
(every file under the input roots, not the ones a synth is known to read) and
``tests/test_synth_cache.py`` records every file a real synth opens and fails on one the
key does not cover. ``--no-cache`` (or ``VAULT_PLATFORM_NO_CACHE=1``) forces a synth.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sys
from datetime import date
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAMP = ".synth-cache.json"
NO_CACHE_VARIABLE = "VAULT_PLATFORM_NO_CACHE"
# Every file below these (relative to the repository root) is part of the key.
INPUT_FILES = ("main.py", "cdktf.json", "Pipfile.lock", "package-lock.json")
INPUT_DIRECTORIES = ("vault_platform", "environments", "flux")
# Written by the interpreter, never read as input.
IGNORED_PARTS = frozenset({"__pycache__"})
# Environment variables the project reads that reach the key through the request main.py
# resolves them into: the environment names, the flags and the outdir.
REQUEST_VARIABLES = {
    "VAULT_PLATFORM_ENV": "the environment names",
    "VAULT_PLATFORM_BOOTSTRAP": "the bootstrap flag",
    "CDKTF_OUTDIR": "the outdir",
}
# Environment variables that change what a synth writes, read by cdktf's App and stack
# synthesizer in the jsii kernel (node_modules/cdktf/lib/app.js, terraform-stack.js, util.js).
OUTPUT_VARIABLES = ("CDKTF_CONTEXT_JSON", "SYNTH_HCL_OUTPUT", "CDKTF_CONTINUE_SYNTH_ON_ERROR_ANNOTATIONS")
# Read during a synth but without effect on its output, each with why (the completeness test
# requires every variable the project reads to be in the key or here).
NOT_OUTPUT_VARIABLES = {
    "NODE_OPTIONS": "node's warnings (node_runtime.py sets --no-deprecation) and the lazy provider exports "
                    "(provider_imports.py), byte-identical output either way (tests/test_synth_output.py)",
    "TERRAFORM_BINARY_NAME": "cdktf's util.js reads it for its `terraform version` checks, which no stack of "
                             "this project triggers (constructs/addresses.py)",
    "PATH": "which node runs jsii: its version is in the key (node_version)",
    NO_CACHE_VARIABLE: "decides whether to use the cache, not what a synth writes",
    "CDKTF_TARGET_STACK_ID": "cdktf 0.20's App stores it and never uses it in synth (lib/app.js)",
    "VAULT_PLATFORM_EAGER_PROVIDER_IMPORT": "byte-identical output either way (tests/test_synth_output.py)",
    "VAULT_PLATFORM_EAGER_NODE_EXPORTS": "the Node half of the switch above: byte-identical output either way",
}


def input_files(root: Path = ROOT) -> list[Path]:
    """Every file the key covers, sorted: the fixed files and everything below the input
    directories except interpreter caches."""
    files = [root / name for name in INPUT_FILES if (root / name).is_file()]
    for directory in INPUT_DIRECTORIES:
        # os.walk, not Path.rglob: a third of an unchanged synth's key went to rglob's Path objects.
        for parent, directories, names in os.walk(root / directory, followlinks=True):
            directories[:] = [name for name in directories if name not in IGNORED_PARTS]
            files.extend(Path(parent, name) for name in names if name not in IGNORED_PARTS and not name.endswith(".pyc")
                         and os.path.isfile(os.path.join(parent, name)))
    return sorted(files)


def node_version() -> str:
    """The Node that jsii will start (node_runtime put the project's first on PATH): its
    resolved path, size and modification time, without starting it (that alone costs more
    than the rest of the key)."""
    found = shutil.which("node")
    if found is None:
        return "none"
    resolved = Path(found).resolve()
    stat = resolved.stat()
    return f"{resolved}:{stat.st_size}:{stat.st_mtime_ns}"


def key(request: Mapping[str, object], *, root: Path = ROOT, environ: Mapping[str, str] = os.environ) -> str:
    """The hash of every input of a synth: ``request`` holds what the command line decided
    (environment names, flags, the outdir), the rest is read here."""
    digest = hashlib.sha256()

    def add(label: str, value: bytes) -> None:
        digest.update(f"{label}\0{len(value)}\0".encode())
        digest.update(value)

    add("request", json.dumps(request, sort_keys=True).encode())
    # Validation reads the calendar (config/validate.py refuses an EKS version past extended
    # support from that day on): a cached output is not reused across midnight.
    add("today", date.today().isoformat().encode())
    # Not sys.flags.optimize: -O changes no byte (tests/test_synth_output.py).
    add("python", f"{sys.version}|{platform.machine()}".encode())
    add("node", node_version().encode())
    for name in OUTPUT_VARIABLES:
        add(f"env:{name}", environ.get(name, "\0unset").encode())
    for path in input_files(root):
        add(f"file:{path.relative_to(root).as_posix()}", path.read_bytes())
    return digest.hexdigest()


def _output_files(outdir: Path) -> list[Path]:
    """What a synth writes: the manifest and each stack's JSON (Terraform's own working files
    in a stack's directory are not output and may change freely)."""
    return sorted([outdir / "manifest.json", *outdir.glob("stacks/*/cdk.tf.json")])


def _output_digest(outdir: Path, files: Iterable[Path]) -> dict[str, str]:
    return {path.relative_to(outdir).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


def write_stamp(staging: Path, cache_key: str, summary: dict[str, list]) -> None:
    """Record the key and the output's hashes in the staging directory of a finished synth,
    before it replaces the outdir (outdir.atomic_outdir)."""
    stamp = {"key": cache_key, "summary": summary, "files": _output_digest(staging, _output_files(staging))}
    (staging / STAMP).write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n")


def cached_summary(outdir: Path, cache_key: str) -> dict[str, list] | None:
    """The stored summary (what main.py reports per environment) when ``outdir`` holds the output of a synth with this key, whole and
    unmodified; None otherwise (any doubt means synthesize)."""
    try:
        stamp = json.loads((outdir / STAMP).read_text())
        if stamp.get("key") != cache_key:
            return None
        files = [outdir / name for name in stamp["files"]]
        if sorted(files) != _output_files(outdir) or _output_digest(outdir, files) != stamp["files"]:
            return None
        return dict(stamp["summary"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
