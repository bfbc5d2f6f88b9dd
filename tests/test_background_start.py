"""When `make test` starts the background jobs: at configure only for a run that collects
every test (tests/conftest.py `_whole_suite`); any narrower run starts them once a worker's
collection names a test that reads them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.conftest import _whole_suite


def config(*, source: pytest.Config.ArgsSource = pytest.Config.ArgsSource.TESTPATHS, **options: object) -> pytest.Config:
    option = SimpleNamespace(collectonly=False, markexpr="", keyword="", lf=False, deselect=None)
    for name, value in options.items():
        setattr(option, name, value)
    return SimpleNamespace(args_source=source, option=option,  # type: ignore[return-value]
                           getoption=lambda name, default=None: getattr(option, name, default))


def test_make_test_starts_the_jobs_at_configure() -> None:
    assert _whole_suite(config())


@pytest.mark.parametrize("narrower", [
    {"source": pytest.Config.ArgsSource.ARGS},  # paths on the command line
    {"collectonly": True},
    {"markexpr": "not integration"},  # make check
    {"keyword": "vault"},
    {"lf": True},
    {"deselect": ["tests/test_emulator_roundtrip_multi.py"]},
])
def test_a_narrower_run_waits_for_the_collection(narrower: dict) -> None:
    assert not _whole_suite(config(**narrower))
