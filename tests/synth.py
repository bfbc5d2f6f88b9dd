"""Synthesize an environment once and hand tests the JSON: the projen ``synth_snapshot``
idea. Both snapshots and property assertions read from here; tests/conftest.py holds the
session fixtures that synthesize each shared output once per test process (per xdist worker)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from vault_platform.app import SynthesizedStack, synthesize, synthesize_environments
from vault_platform.config import environment_names, load_environment


@dataclass(frozen=True)
class StackJson:
    stack_id: str
    path: Path
    data: dict

    def resources(self, resource_type: str) -> dict[str, dict]:
        return self.data.get("resource", {}).get(resource_type, {})

    def one(self, resource_type: str) -> dict:
        found = self.resources(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.values()))

    def outputs(self) -> dict[str, dict]:
        return self.data.get("output", {})


def read_stacks(stacks: list[SynthesizedStack]) -> dict[str, StackJson]:
    return {s.stack_id: StackJson(s.stack_id, s.path, json.loads(s.path.read_text())) for s in stacks}


def synth_environment(environment: str, outdir: Path) -> dict[str, StackJson]:
    return read_stacks(synthesize(load_environment(environment), environment, str(outdir)))


def synth_all_environments(outdir: Path, *, bootstrap: bool = False) -> dict[str, StackJson]:
    """Every environments/*.toml into one output, as `python main.py --all-envs [--bootstrap]` does."""
    configs = [(name, load_environment(name)) for name in environment_names()]
    return read_stacks(synthesize_environments(configs, str(outdir), bootstrap=bootstrap))
