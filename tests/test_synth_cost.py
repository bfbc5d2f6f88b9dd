"""What an environment costs to synthesize, counted instead of timed.

Almost all of the time each environment adds to `python main.py --all-envs` is cdktf's round
trips to its Node process: one per construct created, per attribute read, per method called
(README "Fast synth"; `python -m vault_platform.ops.bench --all-envs` times it, target: 10% of the
first environment). Times vary from machine to machine and run to run, the count does not,
so this test guards the cost where it comes from: a change that adds round trips without
adding resources (an attribute read in a loop, say) fails here, with the figure.
"""

from __future__ import annotations

import collections

import pytest
from jsii._kernel.providers import process

from vault_platform.app import add_environment, new_app
from vault_platform.config import load_environment

# Measured: 692 for the staging environment (379 creates, 232 attribute reads, 81 calls), with
# each add-on's version data source and the image reflector's role; 620 a round earlier (9 of the
# calls are the moved blocks of constructs/addresses.py, 72 more while each move read its path).
# The margin is for a few more resources; more than that should be a decision, not drift.
ROUND_TRIPS_PER_ENVIRONMENT = 700


def test_an_environment_costs_a_bounded_number_of_node_round_trips(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = new_app(str(tmp_path / "cdktf.out"))
    add_environment(app, load_environment("default"), "default")  # first: loads the type assemblies

    counts: collections.Counter[str] = collections.Counter()
    send = process._NodeProcess.send

    def counting_send(self, request, response_type):  # the real call, counted
        counts[type(request).__name__] += 1
        return send(self, request, response_type)

    monkeypatch.setattr(process._NodeProcess, "send", counting_send)
    add_environment(app, load_environment("staging"), "staging")
    monkeypatch.undo()

    total = sum(counts.values())
    assert counts["CreateRequest"] > 300, f"the count did not see the environment being built: {dict(counts)}"
    assert total <= ROUND_TRIPS_PER_ENVIRONMENT, (
        f"one environment now takes {total} round trips to the jsii runtime ({dict(counts)}), more than "
        f"{ROUND_TRIPS_PER_ENVIRONMENT}: read each Terraform reference once (e.g. `vpc_id = vpc.id`), "
        "then re-measure `python -m vault_platform.ops.bench --all-envs` and raise the bound only with the figures")
