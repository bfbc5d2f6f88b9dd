"""Synthesize an environment once and hand tests the JSON: the projen ``synth_snapshot``
idea. Both snapshots and property assertions read from here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from vault_platform.app import synthesize
from vault_platform.config import load_environment


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


def synth_environment(environment: str, outdir: Path) -> dict[str, StackJson]:
    env = load_environment(environment)
    stacks = synthesize(env, environment, str(outdir))
    return {s.stack_id: StackJson(s.stack_id, s.path, json.loads(s.path.read_text())) for s in stacks}
