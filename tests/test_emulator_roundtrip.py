"""The expensive one: the default environment deployed for real (`cdktf deploy`) into the
emulator, re-planned, and its teardown rehearsed through the --allow-destroy synth (every
step of `make emulator-demo`'s teardown, ending in `terraform plan -destroy` instead of the
destroy: README "Test tiers" has the measurements behind that). One run per session,
shared by every assertion below; in its own xdist group, so it runs beside the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.synth import StackJson
from vault_platform.ops.emulator_deploy import RoundTrip, round_trip
from vault_platform.ops.emulator_gaps import emulator_copy

pytestmark = [pytest.mark.integration, pytest.mark.terraform, pytest.mark.xdist_group("emulator-round-trip")]
AWS_STACKS = ("tooling", "application")


@pytest.fixture(scope="session")
def trip(tmp_path_factory: pytest.TempPathFactory) -> tuple[RoundTrip, Path]:
    workdir = tmp_path_factory.mktemp("emulator-round-trip")
    return round_trip(workdir, rehearse_teardown=True), workdir


def test_aws_stacks_deployed_and_the_others_skipped_with_a_reason(trip: tuple[RoundTrip, Path]) -> None:
    report, _ = trip
    assert report.deployed == list(AWS_STACKS)
    for stack_id, reason in report.skipped.items():
        assert "not in any local mirror" in reason, stack_id


def test_everything_but_the_listed_gaps_was_created(trip: tuple[RoundTrip, Path],
                                                    default_stacks: dict[str, StackJson]) -> None:
    report, _ = trip
    for stack_id in AWS_STACKS:
        copy = emulator_copy(default_stacks[stack_id].data)
        expected = sum(len(block) for block in copy.stack_json["resource"].values())
        assert report.resources_after_deploy[stack_id] == expected, stack_id


def test_replan_shows_no_changes_beyond_the_allowlist(trip: tuple[RoundTrip, Path]) -> None:
    report, _ = trip
    assert report.replan_unexplained == {stack_id: () for stack_id in AWS_STACKS}


def test_every_allowlisted_emulator_diff_is_still_needed(trip: tuple[RoundTrip, Path]) -> None:
    assert trip[0].unneeded_allowlist == [], "moto fixed these: remove them from emulator_gaps.PERPETUAL_DIFFS"


def test_outputs_are_readable_after_deploy(trip: tuple[RoundTrip, Path]) -> None:
    outputs = trip[0].outputs
    assert outputs["tooling"]["cluster_name"]["value"] == "demo-tooling"
    assert outputs["tooling"]["ci_deploy_role_arn"]["value"].endswith(":role/demo-ci-deploy")
    assert outputs["application"]["peering_connection_id"]["value"].startswith("pcx-")


def test_teardown_through_allow_destroy_leaves_nothing(trip: tuple[RoundTrip, Path]) -> None:
    """After the --allow-destroy synth and the lift, no deletion protection is left in the
    state (AWS and moto refuse to delete such a database), no prevent_destroy blocks the
    destroy plan, and that plan deletes every resource the deploy created."""
    report, workdir = trip
    assert report.protected_after_lift == {stack_id: [] for stack_id in AWS_STACKS}
    assert report.resources_after_destroy == {stack_id: 0 for stack_id in AWS_STACKS}
    assert (workdir / "terraform.tooling.tfstate").is_file(), "state stays in the work dir, not the repository"

