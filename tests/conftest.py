from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

# The package tests/ imports vault_platform first: the project's Node, NODE_OPTIONS
# (--no-deprecation, the lazy provider exports) and the shallow provider loader, before
# anything imports cdktf.
from tests import background

if TYPE_CHECKING:
    from tests.synth import StackJson
# The synth helpers are imported by the fixtures that use them: importing them starts the
# jsii runtime (a Node process loading the type assemblies: about 1 s of CPU with the lazy
# provider exports, 3 s before), which the xdist controller, the process that starts the
# background jobs, never needs.

# Under xdist (`make test`: `-n 4`, `make check`: `-n 2`, both `--dist loadgroup`) tests of
# one group share a worker. Tests that share an expensive session or module fixture are grouped here by file, so
# the fixture is built once per run instead of once per worker: the emulator round trip,
# every environment's synth with the one checkov run over it, the flux/ renders with the
# schema models, and the main.py processes of test_synth_output.py.
SHARED_FIXTURE_GROUPS = {
    "tests/test_all_environments.py": "all-environments",
    "tests/test_policy_gate.py": "all-environments",
    "tests/test_flows.py": "all-environments",
    "tests/test_clusters.py": "all-environments",
    "tests/test_iam_lint.py": "all-environments",
    "tests/test_creation_order.py": "all-environments",
    "tests/test_regional_quotas.py": "all-environments",
    "tests/flux/": "flux",
    "tests/test_synth_output.py": "main-process",
}
# Started first, longest first: the groups whose shared fixture is most of their time.
# image: a real Buildah build on a base made with mmdebstrap (~100 s); emulator-version-bump:
# two emulators applying and planning EKS (~70 s), mostly waiting.
FIRST_GROUPS = ("image", "emulator-version-bump", "all-environments", "flux", "main-process")
# The groups whose fixture is a background job (tests/background.py: the emulator round trip
# is mostly the provider's waits): the job starts with the run, in a process of its own, and
# its tests, which only wait for its result, are scheduled last, so no worker sits idle.
LAST_GROUPS = tuple(background.JOBS)


@pytest.hookimpl(trylast=True)  # after the tmp_path plugin has made config._tmp_path_factory
def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        background.run_below_jobs()  # the background jobs first (tests/background.py)
    elif _whole_suite(config):
        # `make test`: every job is read, so each starts now instead of once a worker has
        # collected (four workers starting on two cores took 16 s to get there). One that no
        # collected test reads after all (an --ignore'd file) is stopped then.
        _start_background(config, set(background.JOBS))


def _whole_suite(config: pytest.Config) -> bool:
    """No paths, no -k/-m, no last-failed or deselection: the run collects every test."""
    option = config.option
    return (config.args_source == pytest.Config.ArgsSource.TESTPATHS and not option.collectonly
            and not option.markexpr and not option.keyword and not config.getoption("lf", False)
            and not config.getoption("deselect", None))


def _group(item: pytest.Item) -> str | None:
    mark = item.get_closest_marker("xdist_group")
    return mark.args[0] if mark and mark.args else None


def _uses_module_fixture(item: pytest.Item) -> bool:
    """A module-scoped fixture is built once per module per worker: a test module whose tests
    were spread over both workers built it twice (a Vault cluster, a synth). Such a module is
    one group of its own, unless a group above already takes it."""
    info = getattr(item, "_fixtureinfo", None)
    return info is not None and any(defs and defs[-1].scope == "module" for defs in info.name2fixturedefs.values())


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = item.nodeid.split("::")[0]
        group = next((g for prefix, g in SHARED_FIXTURE_GROUPS.items() if path.startswith(prefix)), None)
        group = group or (f"module:{path}" if _uses_module_fixture(item) else None)
        if group and _group(item) is None:
            item.add_marker(pytest.mark.xdist_group(group))

    def rank(item: pytest.Item) -> int:
        # The named groups first (longest first), then every other group (a module's tests
        # sharing a fixture: the Vault suite's are 15-60 s each), then the single tests,
        # which are short and fill the workers' ends evenly, and the job's readers last.
        group = _group(item)
        if group in FIRST_GROUPS:
            return FIRST_GROUPS.index(group)
        if group in LAST_GROUPS:
            return len(FIRST_GROUPS) + 2 + LAST_GROUPS.index(group)
        return len(FIRST_GROUPS) + (0 if group else 1)

    items.sort(key=rank)  # stable: within a rank the collection order stays; without xdist nothing else changes


# Background jobs belong to the process that outlives every worker: the xdist controller
# (it learns each worker's collection, group suffixes included, "...::test@group"), or the
# only process without xdist. Started once the collection says a test will read the job;
# stopped at the end of the run if still going (interrupted, or a failure ended it early).
_BACKGROUND: dict[str, object] = {}


def _start_background(config: pytest.Config, groups: set[str]) -> None:
    if config.option.collectonly:
        return
    for group in sorted(groups & set(background.JOBS)):
        if group not in _BACKGROUND:
            claimed = background.claim(group, background.shared_base(config._tmp_path_factory))
            _BACKGROUND[group] = background.start(group, background.shared_base(config._tmp_path_factory)) \
                if claimed else None


def _collected(config: pytest.Config, groups: set[str]) -> None:
    """The collection's groups are known: start each job they read, stop each started one they do not."""
    for group in set(_BACKGROUND) - groups:
        process = _BACKGROUND.pop(group)
        if process is not None:
            background.stop(process)  # type: ignore[arg-type]
    _start_background(config, groups)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: object, ids: list[str]) -> None:
    config = node.config  # type: ignore[attr-defined]
    _collected(config, {nodeid.rsplit("@", 1)[1] for nodeid in ids if "@" in nodeid.rsplit("::", 1)[-1]})


def pytest_collection_finish(session: pytest.Session) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER") is None and not session.config.pluginmanager.hasplugin("dsession"):
        _collected(session.config, {g for item in session.items if (g := _group(item))})


def pytest_sessionfinish(session: pytest.Session) -> None:
    for process in _BACKGROUND.values():
        if process is not None:
            background.stop(process)  # type: ignore[arg-type]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Each background job's own time: its tests' durations show only their wait for it."""
    for group in _BACKGROUND:
        line = background.summary(group, background.shared_base(config._tmp_path_factory))
        if line:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def default_stacks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, StackJson]:
    """Every stack of the default environment, synthesized once per test session."""
    from tests.synth import synth_environment

    return synth_environment("default", tmp_path_factory.mktemp("cdktf.out"))


@pytest.fixture(scope="session")
def all_environment_output(tmp_path_factory: pytest.TempPathFactory) -> dict[str, StackJson]:
    """Every environment under environments/ in one output with the state-bootstrap stack of
    each that has a [state] table (`python main.py --all-envs --bootstrap`), synthesized once
    per session for every test that needs them all (all environments' properties, the policy
    gate per environment, the IAM lint, which reads the state key's policy too). The bootstrap
    stacks change no byte of the others: a state bucket is not referenced by any other stack
    (compared by hand when this fixture got them; test_all_environments.py compares the
    default environment's stacks with a synth of that environment alone)."""
    from tests.synth import synth_all_environments

    return synth_all_environments(tmp_path_factory.mktemp("all-envs") / "cdktf.out", bootstrap=True)


@pytest.fixture(scope="session")
def all_environment_stacks(all_environment_output: dict[str, StackJson]) -> dict[str, StackJson]:
    """The stacks of all_environment_output that `python main.py --all-envs` writes: every
    environment's stacks of app.stack_order, without the bootstrap stacks."""
    from vault_platform.app import STATE_BOOTSTRAP, stack_id
    from vault_platform.config import environment_names

    bootstrap = {stack_id(name, STATE_BOOTSTRAP) for name in environment_names()}
    return {sid: stack for sid, stack in all_environment_output.items() if sid not in bootstrap}


@pytest.fixture(scope="session")
def tooling(default_stacks: dict[str, StackJson]) -> StackJson:
    return default_stacks["tooling"]


@pytest.fixture(scope="session")
def application(default_stacks: dict[str, StackJson]) -> StackJson:
    return default_stacks["application"]
