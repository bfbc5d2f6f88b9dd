"""Removes pip from the image it runs in (the Containerfile's final stage): the pip and
ensurepip packages on Python's path, their metadata, the pip commands, and pip wheels kept
for ensurepip or venv (Debian's /usr/share/python-wheels). Fails if pip is still importable."""

import importlib.util
import shutil
import sys
import sysconfig
from pathlib import Path

PACKAGES = ("pip", "pip-*.dist-info", "pip-*.egg-info", "ensurepip")
COMMANDS = ("pip", "pip3", "pip3.*")
WHEEL_DIRS = (Path("/usr/share/python-wheels"),)

roots = {Path(entry) for entry in sys.path if entry and Path(entry).is_dir()}
roots.add(Path(sysconfig.get_path("stdlib")))
bins = {Path(sysconfig.get_path("scripts")), Path("/usr/bin"), Path("/usr/local/bin")}
removed = []
for root, patterns in [*((r, PACKAGES) for r in roots), *((b, COMMANDS) for b in bins),
                       *((w, ("pip-*.whl",)) for w in WHEEL_DIRS)]:
    for path in sorted(p for pattern in patterns for p in root.glob(pattern)):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
        removed.append(str(path))
print("removed:", *removed, sep="\n  ")
importlib.invalidate_caches()
if importlib.util.find_spec("pip") is not None or importlib.util.find_spec("ensurepip") is not None:
    sys.exit("remove-pip.py: pip is still importable; add its location to PACKAGES' search")
