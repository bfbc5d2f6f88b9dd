"""A Kubernetes version bump plans as in-place updates, in the order EKS requires (control
plane, then node groups and add-ons), twice in a row: N -> N+1 and N+1 -> N+2, the three
newest versions config/versions.py accepts today.

How far the emulator goes (moto 5.2.5, vault_platform/ops/emulator_gaps.py): it creates the
cluster and its node groups, but has no UpdateClusterVersion or UpdateNodegroupVersion
(UNAPPLIABLE_ON_EMULATOR), so a bump can be planned, not applied. "Twice in a row" is
therefore two plans, each against a fresh apply: the tooling stack's cluster and node groups
(and everything they need: -target) applied at N and planned at N+1, and applied at N+1
on an emulator of its own and planned at N+2. moto has no EKS add-ons and no
DescribeAddonVersions either (UNSUPPORTED_ON_EMULATOR, UNSUPPORTED_DATA_ON_EMULATOR), so
the add-ons' part is read from the synthesized JSON Terraform is given (their version is
resolved from the cluster's version, by reference, which is also their edge after the
control plane) and from the AWS provider without AWS (a plan with no refresh: a new
addon_version is an in-place update). In the planned copy, the attributes moto gets wrong on every plan
(PERPETUAL_DIFFS, which the round trip proves still needed) are ignore_changes, so the
plan shows what the bump changes and nothing moto invents.
"""

from __future__ import annotations

import dataclasses
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest

from vault_platform.config import load_environment
from vault_platform.config.model import EnvironmentConfig
from vault_platform.config.validate import validate_environment
from vault_platform.config.versions import KUBERNETES_VERSIONS
from vault_platform.ops.emulator import Emulator
from vault_platform.ops.emulator_deploy import synth
from vault_platform.ops.emulator_gaps import PERPETUAL_DIFFS, emulator_copy
from vault_platform.ops.terraform_cli import Terraform, find_mirror, first_error, required_providers

pytestmark = [pytest.mark.integration, pytest.mark.terraform, pytest.mark.xdist_group("emulator-version-bump")]
STACK = "tooling"  # the default environment's tooling stack: a cluster, its node groups, five add-ons
ACCEPTED = [row.version for row in KUBERNETES_VERSIONS if (row.extended_support_ends or row.standard_support_ends) >= date.today()]
VERSIONS = tuple(ACCEPTED[-3:])  # N, N+1, N+2 (1.33, 1.34, 1.35 on 2026-12-05)


def at_version(env: EnvironmentConfig, version: str) -> EnvironmentConfig:
    """Every cluster of the environment at ``version``, validated as a file naming it would be."""
    def cluster(config):  # noqa: ANN001, ANN202 (ToolingConfig or ApplicationConfig)
        return dataclasses.replace(config, cluster=dataclasses.replace(config.cluster, kubernetes_version=version))

    bumped = dataclasses.replace(env, tooling=cluster(env.tooling),
                                 application_clusters=tuple(cluster(app) for app in env.application_clusters))
    validate_environment(bumped)
    return bumped


def planned_copy(stack_json: dict) -> dict:
    """The emulator copy, with moto's perpetual diffs ignored (never done to the real stack)."""
    data = emulator_copy(stack_json).stack_json
    for rtype, attributes in PERPETUAL_DIFFS.items():
        for body in data.get("resource", {}).get(rtype, {}).values():
            lifecycle = body.setdefault("lifecycle", {})
            lifecycle["ignore_changes"] = sorted({*lifecycle.get("ignore_changes", []), *attributes})
    return data


@dataclasses.dataclass(frozen=True)
class Bump:
    old: str
    new: str
    plan: dict  # terraform show -json of the plan at `new` against state applied at `old`
    synthesized: dict  # the real (unfiltered) stack JSON at `new`
    seconds: float

    def changes(self, rtype: str) -> dict[str, dict]:
        return {c["address"]: c["change"] for c in self.plan["resource_changes"] if c["type"] == rtype}

    def configuration(self, rtype: str) -> dict[str, dict]:
        resources = self.plan["configuration"]["root_module"]["resources"]
        return {r["address"]: r for r in resources if r["type"] == rtype and r["mode"] == "managed"}


@pytest.fixture(scope="module")
def bumps(tmp_path_factory: pytest.TempPathFactory) -> list[Bump]:
    assert len(VERSIONS) == 3, f"the version table accepts fewer than three versions today: {ACCEPTED}"
    work = tmp_path_factory.mktemp("version-bump")
    env = load_environment("default")
    stacks = {}
    for version in VERSIONS:
        synth(work / version / "cdktf.out", allow_destroy=False, env=at_version(env, version))
        stacks[version] = json.loads((work / version / "cdktf.out" / "stacks" / STACK / "cdk.tf.json").read_text())
    first = stacks[VERSIONS[0]]
    mirror = find_mirror(required_providers(first)[0])
    region = first["provider"]["aws"][0]["region"]
    targets = [f"-target=aws_eks_node_group.{name}" for name in first["resource"]["aws_eks_node_group"]]

    def bump(old: str, new: str) -> Bump:
        started = time.monotonic()
        stack_dir = work / f"bump-{old}" / "cdktf.out" / "stacks" / STACK  # its state: work/bump-<old>/
        stack_dir.mkdir(parents=True)
        (stack_dir / "cdk.tf.json").write_text(json.dumps(planned_copy(stacks[old])))
        # An emulator (a fresh account) per bump, so the two run side by side: most of an
        # apply is the provider waiting between polls, not work.
        with Emulator() as emulator, Terraform(stack_dir, mirror, env=emulator.aws_env(region)) as terraform:
            terraform.init(backend=True)
            applied = terraform.run("apply", "-auto-approve", "-input=false", *targets, check=False)
            assert applied.returncode == 0, f"apply at {old}: {first_error(applied)}"
            (stack_dir / "cdk.tf.json").write_text(json.dumps(planned_copy(stacks[new])))
            planned = terraform.run("plan", "-out=bump.tfplan", "-input=false", *targets, check=False)
            assert planned.returncode == 0, f"plan of {old} -> {new}: {first_error(planned)}"
            return Bump(old, new, terraform.show_json("bump.tfplan"), stacks[new], time.monotonic() - started)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(bump, VERSIONS, VERSIONS[1:]))


def test_the_versions_are_consecutive_minors_the_table_accepts_today() -> None:
    minors = [int(v.split(".")[1]) for v in VERSIONS]
    assert minors == list(range(minors[0], minors[0] + 3)), VERSIONS


def test_each_bump_updates_the_control_plane_and_node_groups_in_place(bumps: list[Bump]) -> None:
    for bump in bumps:
        (cluster,) = bump.changes("aws_eks_cluster").values()
        assert cluster["actions"] == ["update"], (bump.old, bump.new, cluster["actions"])
        assert (cluster["before"]["version"], cluster["after"]["version"]) == (bump.old, bump.new)
        groups = bump.changes("aws_eks_node_group")
        assert len(groups) == len(bump.synthesized["resource"]["aws_eks_node_group"]) >= 1, sorted(groups)
        for address, group in groups.items():
            assert group["actions"] == ["update"], (bump.old, bump.new, address, group["actions"])
            assert (group["before"]["version"], group["after"]["version"]) == (bump.old, bump.new), address


def test_a_bump_creates_replaces_and_deletes_nothing(bumps: list[Bump]) -> None:
    for bump in bumps:
        changed = {c["address"]: c["change"]["actions"] for c in bump.plan["resource_changes"]
                   if c["mode"] == "managed" and c["change"]["actions"] not in (["no-op"], ["update"])}
        assert changed == {}, (bump.old, bump.new)
        updated = {c["address"] for c in bump.plan["resource_changes"] if c["change"]["actions"] == ["update"]}
        assert {a.split(".")[0] for a in updated} == {"aws_eks_cluster", "aws_eks_node_group"}, sorted(updated)


def test_node_groups_follow_the_control_plane_by_reference(bumps: list[Bump]) -> None:
    """The edge Terraform orders by: each node group's version is the cluster's."""
    for bump in bumps:
        (cluster,) = bump.configuration("aws_eks_cluster")
        for address, group in bump.configuration("aws_eks_node_group").items():
            assert f"{cluster}.version" in group["expressions"]["version"]["references"], address


def test_addons_resolve_their_version_from_the_control_plane_after_it(bumps: list[Bump]) -> None:
    """Left out on the emulator, so read from the JSON Terraform plans on AWS: every add-on's
    addon_version is EKS's default for the cluster's version (a reference: the edge after
    the control plane), and its cluster_name is the cluster's (the edge for a pinned one)."""
    for bump in bumps:
        resources, sources = bump.synthesized["resource"], bump.synthesized["data"]["aws_eks_addon_version"]
        (cluster,) = resources["aws_eks_cluster"]
        addons = resources["aws_eks_addon"]
        assert len(addons) == 5, sorted(addons)
        for name, addon in addons.items():
            source = addon["addon_version"].removeprefix("${data.aws_eks_addon_version.").removesuffix(".version}")
            assert sources[source]["kubernetes_version"] == f"${{aws_eks_cluster.{cluster}.version}}", name
            assert sources[source]["most_recent"] is False and sources[source]["addon_name"] == addon["addon_name"]
            assert addon["cluster_name"] == f"${{aws_eks_cluster.{cluster}.name}}", name


def test_duration_of_each_bump_is_reported(bumps: list[Bump]) -> None:
    for bump in bumps:
        print(f"{bump.old} -> {bump.new}: apply and plan in {bump.seconds:.0f}s")


def test_a_pinned_addon_keeps_its_version_through_a_bump(tmp_path: Path) -> None:
    """An environment's pin (cluster.addon_versions) is the add-on's version as written: no
    version is looked up for it, and its cluster_name still orders it after the control plane."""
    env = at_version(load_environment("default"), VERSIONS[-1])
    pinned = dataclasses.replace(env, tooling=dataclasses.replace(env.tooling, cluster=dataclasses.replace(
        env.tooling.cluster, addon_versions={"coredns": "v1.11.4-eksbuild.2"})))
    validate_environment(pinned)
    synth(tmp_path / "cdktf.out", allow_destroy=False, env=pinned)
    stack = json.loads((tmp_path / "cdktf.out" / "stacks" / STACK / "cdk.tf.json").read_text())
    addons = {body["addon_name"]: body for body in stack["resource"]["aws_eks_addon"].values()}
    assert addons["coredns"]["addon_version"] == "v1.11.4-eksbuild.2"
    assert addons["coredns"]["cluster_name"].startswith("${aws_eks_cluster.")
    looked_up = {body["addon_name"] for body in stack["data"]["aws_eks_addon_version"].values()}
    assert looked_up == set(addons) - {"coredns"}


def test_an_addon_version_change_is_an_in_place_update(tmp_path: Path) -> None:
    """What the emulator cannot show for add-ons, asked of the AWS provider itself: with each
    EKS add-on of the registry in the state at one version and configured at the next, the
    plan (no refresh, so no AWS call) updates every one in place (UpdateAddon), replacing none."""
    from vault_platform.addons import eks_managed_names

    provider = {"region": "eu-west-1", "access_key": "testing", "secret_key": "testing",
                "skip_credentials_validation": True, "skip_requesting_account_id": True, "skip_metadata_api_check": "true"}
    addons = {name.replace("-", "_"): name for name in eks_managed_names()}
    (tmp_path / "main.tf.json").write_text(json.dumps({
        "terraform": {"required_providers": {"aws": {"source": "aws", "version": "5.100.0"}}},
        "provider": {"aws": [provider]},
        "resource": {"aws_eks_addon": {key: {"cluster_name": "c", "addon_name": name, "addon_version": "v1.2.4-eksbuild.1",
                                              "resolve_conflicts_on_update": "OVERWRITE"} for key, name in addons.items()}},
    }))
    attributes = {"cluster_name": "c", "addon_version": "v1.2.3-eksbuild.1", "tags": {}, "tags_all": {},
                  "pod_identity_association": [], "service_account_role_arn": ""}
    (tmp_path / "terraform.tfstate").write_text(json.dumps({
        "version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "00000000-0000-4000-8000-000000000024",
        "outputs": {}, "resources": [
            {"mode": "managed", "type": "aws_eks_addon", "name": key,
             "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
             "instances": [{"schema_version": 0, "attributes": {**attributes, "id": f"c:{name}", "addon_name": name,
                                                                  "arn": f"arn:aws:eks:eu-west-1:123456789012:addon/c/{name}/x"}}]}
            for key, name in addons.items()]}))
    with Terraform(tmp_path, find_mirror(required_providers({"terraform": {"required_providers": {
            "aws": {"source": "aws", "version": "5.100.0"}}}})[0])) as terraform:
        terraform.init()
        planned = terraform.run("plan", "-refresh=false", "-out=addons.tfplan", "-input=false", check=False)
        assert planned.returncode == 0, first_error(planned)
        changes = {c["address"]: c["change"]["actions"] for c in terraform.show_json("addons.tfplan")["resource_changes"]}
    assert changes == {f"aws_eks_addon.{key}": ["update"] for key in addons}
