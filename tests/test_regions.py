"""Any region of the aws and aws-us-gov partitions: the region table matches the partitions
AWS publishes for its SDKs, and an environment written by hand for a region outside the old
hand-kept list (sa-east-1) and one in aws-us-gov (with pinned zone IDs) synthesize, validate
and pass the flow contract, the IAM lint and the creation-order contract; every ARN carries
the region's partition."""

from __future__ import annotations

import json
from pathlib import Path

import botocore
import pytest

from tests.helpers import environment_data
from tests.synth import read_stacks
from vault_platform.app import stack_order, synthesize_environments
from vault_platform.config import parse_environment
from vault_platform.config.regions import REGIONS_BY_PARTITION
from vault_platform.flows.check import check, model_of
from vault_platform.flows.creation_order import unordered_preconditions
from vault_platform.flows.synthesized import Synthesized
from vault_platform.ops.iam_lint import lint_stacks, placement_of, report_lines

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_the_region_table_is_the_sdk_partitions() -> None:
    data = json.loads((Path(botocore.__file__).parent / "data" / "endpoints.json").read_text())
    published = {p["partition"]: set(p["regions"]) for p in data["partitions"] if p["partition"] in REGIONS_BY_PARTITION}
    assert {partition: set(regions) for partition, regions in REGIONS_BY_PARTITION.items()} == published


def _environment(name: str, region: str, **extra: object):
    data = environment_data("default")
    data.update(name=name, region=region, **extra)
    return parse_environment(data, source=f"environments/{name}.toml")


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory: pytest.TempPathFactory):
    """Two hand-written environments in one synth: sa-east-1 (zones from AWS at plan time) and
    us-gov-west-1 (zones pinned by ID)."""
    envs = [("saopaulo", _environment("sp", "sa-east-1")),
            ("govcloud", _environment("gov", "us-gov-west-1", zones=["usgw1-az1", "usgw1-az2", "usgw1-az3"]))]
    outdir = tmp_path_factory.mktemp("elsewhere")
    stacks = read_stacks(synthesize_environments(envs, str(outdir)))
    return envs, outdir, stacks


@pytest.mark.parametrize("index", [0, 1], ids=["sa-east-1", "us-gov-west-1"])
def test_another_region_passes_flows_iam_lint_and_creation_order(elsewhere, index: int) -> None:
    envs, outdir, stacks = elsewhere
    file, env = envs[index]
    ids = stack_order(env, file)
    synth = Synthesized.read(outdir, stack_ids=ids)
    report = check(model_of(synth, env, file, REPO_ROOT), env, file)
    assert report.problems() == []
    assert unordered_preconditions(synth) == []
    result = lint_stacks({sid: stacks[sid].data for sid in ids}, placement_of(env))
    assert not result.failed, "\n".join(report_lines(result))
    assert stacks[f"{file}-tooling"].data["provider"]["aws"][0]["region"] == env.region


def test_every_arn_of_a_govcloud_environment_is_in_its_partition(elsewhere) -> None:
    envs, _, stacks = elsewhere
    file, env = envs[1]
    for sid in stack_order(env, file):
        text = json.dumps(stacks[sid].data)
        assert "arn:aws:" not in text, sid
    assert "arn:aws-us-gov:eks:us-gov-west-1:" in json.dumps(stacks[f"{file}-tooling"].data)


def test_pinned_zone_ids_place_the_subnets_and_replace_the_lookup(elsewhere) -> None:
    envs, _, stacks = elsewhere
    gov, sao = stacks[f"{envs[1][0]}-tooling"], stacks[f"{envs[0][0]}-tooling"]
    assert "aws_availability_zones" not in gov.data.get("data", {})
    assert sorted({s["availability_zone_id"] for s in gov.resources("aws_subnet").values()}) == ["usgw1-az1", "usgw1-az2", "usgw1-az3"]
    assert "availability_zone" in next(iter(sao.resources("aws_subnet").values()))
    assert sao.data["data"]["aws_availability_zones"]["zones"]["exclude_zone_ids"] == ["use1-az3", "usw1-az2", "cac1-az3"]
