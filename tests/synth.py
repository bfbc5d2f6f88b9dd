"""Synthesize an environment once and hand tests the JSON: the projen ``synth_snapshot``
idea. Both snapshots and property assertions read from here; tests/conftest.py holds the
session fixtures that synthesize each shared output once per test process (per xdist worker)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cdktf import App, TerraformStack
from cdktf_cdktf_provider_aws.provider import AwsProvider

from vault_platform.app import SynthesizedStack, synthesize, synthesize_environments
from vault_platform.config import EnvironmentConfig, environment_names, load_environment


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


def read_tree(directory: Path) -> dict[str, bytes]:
    """Every file below ``directory`` (a synth output) by its relative path, bytes exact."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def read_stacks(stacks: list[SynthesizedStack]) -> dict[str, StackJson]:
    return {s.stack_id: StackJson(s.stack_id, s.path, json.loads(s.path.read_text())) for s in stacks}


def synth_config(env: EnvironmentConfig, environment_file: str, outdir: Path, **options: bool) -> dict[str, StackJson]:
    """One environment's stacks, keyed by stack id, through the synthesize() main.py uses
    (options: allow_destroy, bootstrap)."""
    return read_stacks(synthesize(env, environment_file, str(outdir), **options))


def synth_environment(environment: str, outdir: Path, **options: bool) -> dict[str, StackJson]:
    return synth_config(load_environment(environment), environment, outdir, **options)


def synth_construct(outdir: Path, build: Callable[[TerraformStack], object], *, stack_id: str = "test",
                    region: str = "eu-west-1") -> StackJson:
    """What ``build`` adds to a stack of its own with only the AWS provider: faster than an
    environment, and valid Terraform on its own."""
    app = App(outdir=str(outdir))
    stack = TerraformStack(app, stack_id)
    AwsProvider(stack, "aws", region=region)
    build(stack)
    app.synth()
    path = outdir / "stacks" / stack_id / "cdk.tf.json"
    return StackJson(stack_id, path, json.loads(path.read_text()))


def synth_all_environments(outdir: Path, *, bootstrap: bool = False) -> dict[str, StackJson]:
    """Every environments/*.toml into one output, as `python main.py --all-envs [--bootstrap]` does."""
    configs = [(name, load_environment(name)) for name in environment_names()]
    return read_stacks(synthesize_environments(configs, str(outdir), bootstrap=bootstrap))
