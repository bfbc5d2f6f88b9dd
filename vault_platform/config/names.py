"""Which environments exist: the files under environments/, by name.

Apart from the loader because it is all an unchanged synth needs (main.py resolves the names
for the synth cache's key before it loads anything; the loader, with its dataclasses and
validation, was a third of that command's time)."""

from __future__ import annotations

from pathlib import Path

ENVIRONMENTS_DIR = Path(__file__).resolve().parents[2] / "environments"
DEFAULT_ENVIRONMENT = "default"


def environment_names(directory: Path = ENVIRONMENTS_DIR) -> tuple[str, ...]:
    return tuple(sorted(path.stem for path in directory.glob("*.toml")))
