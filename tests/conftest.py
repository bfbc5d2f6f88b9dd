from __future__ import annotations

import os

# The jsii runtime's own deprecation warnings are noise in test output. Set before anything
# imports cdktf: the node process starts with the first import and reads this then.
os.environ.setdefault("NODE_OPTIONS", "--no-deprecation")

import pytest  # noqa: E402

from tests.synth import StackJson, synth_environment  # noqa: E402


@pytest.fixture(scope="session")
def default_stacks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, StackJson]:
    """Every stack of the default environment, synthesized once per test session."""
    return synth_environment("default", tmp_path_factory.mktemp("cdktf.out"))


@pytest.fixture(scope="session")
def tooling(default_stacks: dict[str, StackJson]) -> StackJson:
    return default_stacks["tooling"]


@pytest.fixture(scope="session")
def application(default_stacks: dict[str, StackJson]) -> StackJson:
    return default_stacks["application"]
