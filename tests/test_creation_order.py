"""The creation-order contract (vault_platform/flows/creation_order.py): every precondition
AWS enforces at create time is an edge of the Terraform graph or an earlier stack, in every
environment; and the check finds the precondition when the edge is taken away."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest

from tests.synth import StackJson
from vault_platform.app import stack_order
from vault_platform.config import environment_names, load_environment
from vault_platform.flows.creation_order import PRECONDITIONS, unordered_preconditions
from vault_platform.flows.synthesized import Synthesized


@pytest.fixture(scope="module")
def synth_of(all_environment_stacks: dict[str, StackJson]):
    outdir = next(iter(all_environment_stacks.values())).path.parents[2]

    def read(environment: str) -> Synthesized:
        return Synthesized.read(outdir, stack_ids=stack_order(load_environment(environment), environment))
    return read


def _mutated(synth: Synthesized, change) -> Synthesized:
    stacks = {sid: dataclasses.replace(stack, data=copy.deepcopy(stack.data)) for sid, stack in synth.stacks.items()}
    change(stacks)
    return Synthesized(stacks)


def _find(stack, rtype: str, part: str) -> dict:
    return next(body for name, body in stack.data["resource"][rtype].items() if part in name)


@pytest.mark.parametrize("environment", environment_names())
def test_every_environment_orders_every_create_time_precondition(environment: str, synth_of) -> None:
    assert unordered_preconditions(synth_of(environment)) == []


def test_every_precondition_names_an_aws_source() -> None:
    for precondition in PRECONDITIONS:
        assert precondition.source.startswith("https://docs.aws.amazon.com/"), precondition.rule


# The defect this contract found (both environments with a database had it): Vault's rules on
# the application cluster's and database's groups reference the tooling cluster's group across
# the peering, with no edge to the peering connection, so Terraform created them in parallel
# and EC2 refused them until the peering was active.
def test_a_rule_referencing_the_peer_vpc_group_without_the_peering_edge_is_reported(synth_of) -> None:
    def forget_peering(stacks) -> None:
        for rtype, block in stacks["application"].data["resource"].items():
            for body in block.values():
                if rtype == "aws_vpc_security_group_ingress_rule":
                    body.pop("depends_on", None)
    problems = unordered_preconditions(_mutated(synth_of("default"), forget_peering))
    assert len(problems) == 2
    assert all("peered-security-group-reference" in p and "aws_vpc_peering_connection" in p for p in problems)
    assert any(p.startswith("stack application: aws_vpc_security_group_ingress_rule.kubernetes-api-from-vault") for p in problems)


# The VPN stack's rules reference application cluster groups in the peered VPC: ordered by
# the deploy order (vpn after every application stack), not by an edge of its own.
def test_cross_stack_preconditions_follow_the_deploy_order(synth_of) -> None:
    def vpn_first(stacks) -> None:
        stacks["vpn"] = dataclasses.replace(stacks["vpn"], dependencies=("tooling",))
    problems = unordered_preconditions(_mutated(synth_of("default"), vpn_first))
    assert problems and all(p.startswith("stack vpn: aws_vpc_security_group_") for p in problems)
    assert all("application:aws_vpc_peering_connection" in p for p in problems)


def test_node_group_without_its_role_permissions_is_reported(synth_of) -> None:
    def no_wait(stacks) -> None:
        _find(stacks["tooling"], "aws_eks_node_group", "system").pop("depends_on")
    problems = unordered_preconditions(_mutated(synth_of("default"), no_wait))
    assert len(problems) == 2
    assert all(p.startswith("stack tooling: aws_eks_node_group.") and "service-role-permissions" in p for p in problems)


def test_a_key_policy_naming_a_role_by_a_hand_built_arn_is_reported(synth_of) -> None:
    """KMS refuses a key policy whose principal does not exist yet: a role named by a literal
    ARN has no edge to the role resource."""
    def literal_principal(stacks) -> None:
        key = _find(stacks["tooling"], "aws_kms_key", "ebs-key")
        policy = json.loads(key["policy"])
        policy["Statement"].append({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
                                    "Principal": {"AWS": "arn:aws:iam::123456789012:role/demo-tooling-vault"}})
        key["policy"] = json.dumps(policy)
    problems = unordered_preconditions(_mutated(synth_of("default"), literal_principal))
    assert len(problems) == 1
    assert "policy-principals-exist" in problems[0] and "demo-tooling-vault " in problems[0]


# A kubernetes_version bump: the node groups carry the control plane's version by reference,
# so Terraform updates the control plane first and each node group after it (EKS refuses the
# next bump while node groups lag a minor version behind).
@pytest.mark.parametrize("environment", environment_names())
def test_node_groups_follow_the_control_plane_version(environment: str, synth_of) -> None:
    synth = synth_of(environment)
    for stack in synth.stacks.values():
        clusters = stack.resources("aws_eks_cluster")
        for body in stack.resources("aws_eks_node_group").values():
            (cluster_name,) = clusters
            assert body["version"] == f"${{aws_eks_cluster.{cluster_name}.version}}"


def test_make_flows_fails_on_a_creation_order_gap(default_stacks: dict[str, StackJson], tmp_path, capsys) -> None:
    """`make flows` (python -m vault_platform.flows) runs the contract on a synthesized output too."""
    import shutil

    from vault_platform.flows.__main__ import main

    outdir = tmp_path / "out"
    shutil.copytree(next(iter(default_stacks.values())).path.parents[2], outdir)
    assert main(["--env", "default", "--synth-dir", str(outdir)]) == 0
    path = outdir / "stacks" / "tooling" / "cdk.tf.json"
    data = json.loads(path.read_text())
    next(iter(data["resource"]["aws_eks_node_group"].values())).pop("depends_on")
    path.write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["--env", "default", "--synth-dir", str(outdir)]) == 1
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("CREATION ORDER ")]
    assert len(lines) == 2 and all("service-role-permissions" in line for line in lines)
