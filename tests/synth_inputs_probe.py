"""Run main.py as the CLI does and record what the process reads: every file it opens and
lists, and every environment variable it looks up (tests/test_synth_cache.py).

    python tests/synth_inputs_probe.py RECORD_JSON -- <main.py arguments>

Files are recorded through Python's audit hooks (``open``, ``os.listdir``, ``os.scandir``);
environment variables by swapping ``os.environ``'s class for a subclass that notes each key
looked up. The jsii kernel (node) reads only node_modules and its own temporary directory,
which an audit hook cannot see: those are fixed by package-lock.json, which is in the key.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    record_path, separator, *argv = sys.argv[1:]
    assert separator == "--", "usage: synth_inputs_probe.py RECORD_JSON -- <main.py arguments>"
    files: set[str] = set()
    variables: set[str] = set()

    def hook(event: str, args: tuple) -> None:
        if event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], (str, bytes, os.PathLike)):
            path = os.fsdecode(args[0])
            files.add(os.path.abspath(path))

    project = [str(ROOT / "main.py"), str(ROOT / "vault_platform") + os.sep]

    def note(key: object) -> None:
        """Only lookups made by the project's own code: jsii copies the whole environment for
        its node process, which would otherwise look like a read of every variable there is."""
        frame = sys._getframe(2)
        while frame is not None and frame.f_code.co_filename in (os.__file__, "<frozen os>", "<frozen _collections_abc>"):
            frame = frame.f_back
        if frame is not None and any(frame.f_code.co_filename.startswith(prefix) for prefix in project):
            variables.add(str(key))

    class RecordingEnviron(type(os.environ)):  # type: ignore[misc]
        def __getitem__(self, key: str) -> str:
            note(key)
            return super().__getitem__(key)

        def __contains__(self, key: object) -> bool:
            note(key)
            return super().__contains__(key)

    os.environ.__class__ = RecordingEnviron  # get(), getenv() and setdefault() go through __getitem__
    sys.addaudithook(hook)
    sys.path[0] = str(ROOT)  # as `python main.py` has it: the repository, not tests/
    sys.argv = ["main.py", *argv]
    code = 0
    try:
        runpy.run_path(str(ROOT / "main.py"), run_name="__main__")
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    Path(record_path).write_text(json.dumps({"code": code, "files": sorted(files), "variables": sorted(variables)}))


if __name__ == "__main__":
    main()
