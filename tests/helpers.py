"""What many tests need, kept once: environment files as dicts and the edits tests make to
them, the skip rule of tests that run terraform with its AWS provider mirror, validate of
one synthesized stack, and the credentials such a test gives Terraform. Synthesizing lives in tests/synth.py."""

from __future__ import annotations

import copy
import os
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.synth import StackJson
from vault_platform.config import parse_environment
from vault_platform.config.load import ENVIRONMENTS_DIR
from vault_platform.config.model import EnvironmentConfig
from vault_platform.binaries import BinaryNotFound
from vault_platform.ops.terraform_cli import (
    TerraformUnavailable,
    find_mirror,
    required_providers,
    terraform_binary,
    validate_directory,
)

IN_CI = os.environ.get("CI") == "true"

Change = Callable[[dict], None]


def environment_data(name: str = "default") -> dict:
    """environments/<name>.toml as the loader reads it, a fresh dict each call."""
    return tomllib.loads((ENVIRONMENTS_DIR / f"{name}.toml").read_text())


DEFAULT = environment_data()  # never edited: with_change edits a copy


def with_change(*changes: Change, base: dict = DEFAULT) -> dict:
    """A copy of ``base`` (the default environment) with ``changes`` applied in order."""
    data = copy.deepcopy(base)
    for change in changes:
        change(data)
    return data


def set_at(path: str, value: object) -> Change:
    """Set the dotted ``path`` (tables created on the way) to ``value``."""
    def change(data: dict) -> None:
        *parents, last = path.split(".")
        for key in parents:
            data = data.setdefault(key, {})
        data[last] = value
    return change


def drop(path: str) -> Change:
    def change(data: dict) -> None:
        *parents, last = path.split(".")
        for key in parents:
            data = data[key]
        del data[last]
    return change


def environment_variant(*changes: Change, name: str = "variant", base: str = "default") -> EnvironmentConfig:
    """environments/<base>.toml with ``changes``, loaded and checked as if it were <name>.toml."""
    return parse_environment(with_change(*changes, base=environment_data(base)), source=f"environments/{name}.toml")


def unavailable(reason: str) -> None:
    """A terraform test cannot run here: skipped, except in CI, where it must run."""
    if IN_CI:
        pytest.fail(f"terraform test cannot run in CI: {reason}")
    pytest.skip(f"terraform test not run: {reason}")


def terraform_mirror(config: dict) -> Path:
    """The local mirror of the first provider ``config`` requires (the AWS provider in every
    stack that has it), once the terraform binary is found by the operator tools' own lookup;
    otherwise ``unavailable``, with their one-line reason."""
    try:
        terraform_binary()
        return find_mirror(required_providers(config)[0])
    except (BinaryNotFound, TerraformUnavailable) as error:
        unavailable(str(error))
        raise  # not reached: unavailable() skips or fails


def assert_terraform_validates(stack: StackJson, workdir: Path) -> list[str]:
    """`terraform validate` of a copy of the stack's directory in workdir (so .terraform stays
    out of the synth output); its problems (warnings) when valid."""
    mirror = terraform_mirror(stack.data)
    shutil.copytree(stack.path.parent, workdir)
    valid, problems = validate_directory(workdir, mirror)
    assert valid, f"{stack.stack_id} is not valid:\n" + "\n".join(problems)
    return problems


# Credentials that authenticate nothing, for Terraform runs that must not reach AWS.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-a-secret",
                    "AWS_EC2_METADATA_DISABLED": "true"}
