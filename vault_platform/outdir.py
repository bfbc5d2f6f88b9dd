"""Write a synth's output all at once or not at all.

cdktf writes stack after stack into its outdir; an exception half-way (bad input found
late, a bug) would leave some stacks new and some old, or missing, and the next `cdktf
deploy` would act on that mix. So the App writes into a fresh sibling directory, and only
a finished synth takes the place of the old output: two renames on one filesystem, with
the old tree put back if the second fails. Terraform's working files inside a stack's
directory (.terraform/, .terraform.lock.hcl, saved plans) are carried over, so a synth
does not force a new `terraform init`.

Two synths into one outdir at once (two terminals, a CI job next to a developer) each
finish their own staging tree; the swaps take turns under an exclusive lock on a file beside
the outdir (``.<outdir>.lock``, kept: removing a lock file others may hold is itself a race),
so the last to finish wins, whole, and neither can leave a mix or lose the other's tree.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_outdir(outdir: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty staging directory; on success it replaces ``outdir``, on any exception
    it is removed and ``outdir`` is left exactly as it was."""
    final = Path(outdir)
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists() and not final.is_dir():
        raise NotADirectoryError(f"{final} exists and is not a directory; remove it or pick another --outdir")
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.new-", dir=final.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp's 0700 would become the output's mode
    try:
        yield staging
        with _swap_lock(final):
            _swap(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def lock_path(final: Path) -> Path:
    return final.parent / f".{final.name}.lock"


@contextmanager
def _swap_lock(final: Path) -> Iterator[None]:
    with open(lock_path(final), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
        yield


def _carry_working_files(old: Path, new: Path) -> None:
    """Move what Terraform (not the synth) put in a stack's directory into its new one."""
    for old_stack in sorted((old / "stacks").glob("*/")):
        new_stack = new / "stacks" / old_stack.name
        if not new_stack.is_dir():
            continue  # the stack is gone from the app: its working files go with the old tree
        for entry in old_stack.iterdir():
            target = new_stack / entry.name
            if not target.exists() and not target.is_symlink():
                entry.rename(target)


def _swap(staging: Path, final: Path) -> None:
    if not final.exists():
        staging.rename(final)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
    retired.rmdir()  # only its unique name is wanted: rename needs the target free
    final.rename(retired)
    try:
        staging.rename(final)
    except BaseException:
        retired.rename(final)
        raise
    # The old tree is out of the way now; nothing below can change what the synth wrote.
    _carry_working_files(retired, final)
    shutil.rmtree(retired, ignore_errors=True)
