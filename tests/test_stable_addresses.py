"""Resource addresses are part of the contract with existing state (the snapshots pin them).

Renaming a construct id changes a resource's address, and Terraform then plans to destroy
the resource at the old address, even a protected one: prevent_destroy lives in the
configuration, and the old address is no longer in it. cdktf's move support
(``resource.move_from_id("<type>.<old address>")``) writes a Terraform ``moved`` block
instead, and the plan becomes a no-op move. Shown on a tiny App with the real Terraform and
AWS provider: a plan against state holding the old address, without and with the move.

Then on our own EksCluster: the ids that were list positions (admin access entries, managed
policy attachments of the node role and the IRSA roles) are keyed by what they name, and a
state holding the old addresses plans as moves (constructs/addresses.py ``moved_from``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cdktf import TerraformStack
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from constructs import Construct

from tests.helpers import FAKE_CREDENTIALS, terraform_mirror
from tests.synth import StackJson, synth_construct
from vault_platform.addons import registry
from vault_platform.config.model import ClusterConfig
from vault_platform.constructs.addresses import logical_id
from vault_platform.constructs.eks import EksCluster, EksClusterProps
from vault_platform.constructs.iam import IrsaRoleProps
from vault_platform.constructs.protection import protected_lifecycle
from vault_platform.errors import ConfigError
from vault_platform.ops.terraform_cli import Terraform, first_error

OLD_ADDRESS = "aws_s3_bucket.audit-logs"
BUCKET = "example-audit-logs"


def synth(outdir: Path, *, refactored: bool) -> dict:
    """Before: S3Bucket(stack, "audit-logs"). After the refactor it lives in a construct
    "storage" with id "audit", and says where it moved from."""
    def build(stack: TerraformStack) -> None:
        if refactored:
            storage = Construct(stack, "storage")
            bucket = S3Bucket(storage, "audit", bucket=BUCKET, lifecycle=protected_lifecycle(storage))
            bucket.move_from_id(OLD_ADDRESS)
        else:
            S3Bucket(stack, "audit-logs", bucket=BUCKET, lifecycle=protected_lifecycle(stack))

    return synth_construct(outdir, build, stack_id="refactor").data


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    return (synth(tmp_path_factory.mktemp("before"), refactored=False),
            synth(tmp_path_factory.mktemp("after"), refactored=True))


def test_refactor_writes_a_moved_block(versions: tuple[dict, dict]) -> None:
    before, after = versions
    assert list(before["resource"]["aws_s3_bucket"]) == ["audit-logs"]
    (address, bucket), = after["resource"]["aws_s3_bucket"].items()
    assert address != "audit-logs" and bucket["lifecycle"]["prevent_destroy"] is True
    assert after["moved"] == [{"from": OLD_ADDRESS, "to": f"aws_s3_bucket.{address}"}]


def offline(config: dict) -> dict:
    """Plan without an AWS account: no credential check, no refresh, state in ./terraform.tfstate
    (the test's copy only)."""
    provider = {**config["provider"]["aws"][0], "skip_credentials_validation": True, "skip_requesting_account_id": True,
                "skip_metadata_api_check": "true"}
    terraform = {k: v for k, v in config["terraform"].items() if k != "backend"}
    return {**config, "provider": {"aws": [provider]}, "terraform": terraform}


def state_holding(resources: dict[str, dict]) -> dict:
    """What `terraform apply` of the old version left: these resources (address -> the
    attributes the provider recorded) and nothing else."""
    return {"version": 4, "terraform_version": "1.11.0", "serial": 1, "lineage": "00000000-0000-4000-8000-000000000001",
            "outputs": {}, "resources": [{
                "mode": "managed", "type": address.split(".")[0], "name": address.split(".")[1],
                "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
                "instances": [{"schema_version": 0, "sensitive_attributes": [], "attributes": attributes}],
            } for address, attributes in resources.items()]}


Change = tuple[str, "str | None", list[str]]


@contextmanager
def planning(config: dict, state: dict, workdir: Path) -> Iterator[Callable[[dict], list[Change]]]:
    """Terraform initialized in workdir with ``state``; yields plan(config) -> every resource
    change as (address, previous address, actions), sorted. Skips (fails in CI) without
    terraform or the AWS provider mirror (tests/helpers.py)."""
    mirror = terraform_mirror(config)
    (workdir / "terraform.tfstate").write_text(json.dumps(state))

    def plan(config: dict) -> list[Change]:
        (workdir / "cdk.tf.json").write_text(json.dumps(offline(config)))
        result = terraform.run("plan", "-refresh=false", "-input=false", "-out=plan.out", check=False)
        assert result.returncode == 0, first_error(result)
        changes = terraform.show_json("plan.out")["resource_changes"]
        return sorted((c["address"], c.get("previous_address"), c["change"]["actions"]) for c in changes)

    with Terraform(workdir, mirror, env=FAKE_CREDENTIALS) as terraform:
        (workdir / "cdk.tf.json").write_text(json.dumps(offline(config)))
        terraform.init(backend=True)
        yield plan


def without_moves(config: dict) -> dict:
    return {k: v for k, v in config.items() if k != "moved"}


# Our own construct, as the stacks build it: an EKS cluster with two admins; its node role and
# IRSA roles carry AWS-managed policies. Ids that were list positions are now what they name.
ADMINS = ("arn:aws:iam::123456789012:role/platform-admins", "arn:aws:iam::123456789012:user/ops/alice")
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-4000-8000-000000000000"
ADMIN_POLICY = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def cluster_config(outdir: Path, admins: tuple[str, ...] = ADMINS) -> dict:
    def build(stack: TerraformStack) -> None:
        cluster = EksCluster(stack, "eks", EksClusterProps(
            name="demo", cluster=ClusterConfig(name="demo", admin_principal_arns=admins), subnet_ids=["subnet-a", "subnet-b"],
            secrets_kms_key_arn=KEY_ARN, ebs_kms_key_arn=KEY_ARN, log_kms_key_arn=KEY_ARN, partition="aws",
            region="eu-west-1", account_id="123456789012",
        ))
        # The IRSA roles with AWS-managed policies, as the add-on registry has the stacks make them.
        for name in ("vpc-cni", "aws-ebs-csi-driver"):
            irsa, managed = registry()[name].irsa, registry()[name].managed_policies
            cluster.irsa_role(irsa.construct_id, role_suffix=irsa.role_suffix, namespace=irsa.namespace,
                              service_account=irsa.service_account, managed_policies=managed)

    return synth_construct(outdir, build, stack_id="cluster").data


def _attachment(role: str, policy: str) -> dict:
    arn = f"arn:aws:iam::aws:policy/{policy}"
    return {"id": f"{role}-{policy.rsplit('/', 1)[-1]}", "role": role, "policy_arn": arn}


def _admin_entry(principal: str) -> dict:
    return {"id": f"demo:{principal}", "cluster_name": "demo", "principal_arn": principal, "type": "STANDARD",
            "kubernetes_groups": [], "tags": {}, "tags_all": {}}


def _admin_policy(principal: str) -> dict:
    return {"id": f"demo#{principal}#{ADMIN_POLICY}", "cluster_name": "demo", "principal_arn": principal,
            "policy_arn": ADMIN_POLICY, "access_scope": [{"type": "cluster", "namespaces": []}]}


# The addresses the previous version (keyed by list position) synthesized for cluster_config(),
# written down from its output, not computed by the code under test; the node-role and IRSA
# ones are also those of the reviewed snapshots before the change. Each with the attributes
# `terraform apply` of that version recorded.
OLD_STATE = {
    "aws_eks_access_entry.eks_admin-0_CED4B653": _admin_entry(ADMINS[0]),
    "aws_eks_access_entry.eks_admin-1_A7AC350C": _admin_entry(ADMINS[1]),
    "aws_eks_access_policy_association.eks_admin-0-policy_9789099B": _admin_policy(ADMINS[0]),
    "aws_eks_access_policy_association.eks_admin-1-policy_A2D171B1": _admin_policy(ADMINS[1]),
    "aws_iam_role_policy_attachment.eks_node-role-policy-0_B6EB4EC7": _attachment("demo-node", "AmazonEKSWorkerNodePolicy"),
    "aws_iam_role_policy_attachment.eks_node-role-policy-1_A813F821":
        _attachment("demo-node", "AmazonEC2ContainerRegistryReadOnly"),
    "aws_iam_role_policy_attachment.eks_vpc-cni-irsa_managed-0_92B6EEC9": _attachment("demo-vpc-cni", "AmazonEKS_CNI_Policy"),
    "aws_iam_role_policy_attachment.eks_ebs-csi-irsa_managed-0_8A555C26":
        _attachment("demo-ebs-csi", "service-role/AmazonEBSCSIDriverPolicy"),
}
# Where each moves to: the principal's type and name, the policy's name.
NEW_ADDRESSES = {
    "aws_eks_access_entry.eks_admin-0_CED4B653": "aws_eks_access_entry.eks_admin-role-platform-admins_",
    "aws_eks_access_entry.eks_admin-1_A7AC350C": "aws_eks_access_entry.eks_admin-user-alice_",
    "aws_eks_access_policy_association.eks_admin-0-policy_9789099B":
        "aws_eks_access_policy_association.eks_admin-role-platform-admins-policy_",
    "aws_eks_access_policy_association.eks_admin-1-policy_A2D171B1": "aws_eks_access_policy_association.eks_admin-user-alice-policy_",
    "aws_iam_role_policy_attachment.eks_node-role-policy-0_B6EB4EC7":
        "aws_iam_role_policy_attachment.eks_node-role-policy-AmazonEKSWorkerNodePolicy_",
    "aws_iam_role_policy_attachment.eks_node-role-policy-1_A813F821":
        "aws_iam_role_policy_attachment.eks_node-role-policy-AmazonEC2ContainerRegistryReadOnly_",
    "aws_iam_role_policy_attachment.eks_vpc-cni-irsa_managed-0_92B6EEC9":
        "aws_iam_role_policy_attachment.eks_vpc-cni-irsa_managed-AmazonEKS_CNI_Policy_",
    "aws_iam_role_policy_attachment.eks_ebs-csi-irsa_managed-0_8A555C26":
        "aws_iam_role_policy_attachment.eks_ebs-csi-irsa_managed-AmazonEBSCSIDriverPolicy_",
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return cluster_config(tmp_path_factory.mktemp("cluster"))


def test_every_renamed_resource_says_where_it_moved_from(cluster: dict) -> None:
    moves = {move["from"]: move["to"] for move in cluster["moved"]}
    assert sorted(moves) == sorted(OLD_STATE)
    for old, new in moves.items():
        assert new.startswith(NEW_ADDRESSES[old]) and new.split(".")[1] in cluster["resource"][new.split(".")[0]]


def test_removing_the_first_admin_leaves_the_second_where_it_was(cluster: dict, tmp_path: Path) -> None:
    fewer = cluster_config(tmp_path, admins=ADMINS[1:])
    for resource_type in ("aws_eks_access_entry", "aws_eks_access_policy_association"):
        (kept,) = fewer["resource"][resource_type]
        assert kept in cluster["resource"][resource_type] and "alice" in kept


def test_two_managed_policies_with_one_name_are_refused() -> None:
    with pytest.raises(ConfigError, match="attach each managed policy once"):
        IrsaRoleProps(role_name="demo-x", oidc_provider_arn="arn", oidc_issuer_host="host", namespace="ns",
                      service_account="sa", managed_policy_arns=("arn:aws:iam::aws:policy/A", "arn:aws:iam::aws:policy/team/A"))


def test_logical_id_is_the_one_cdktf_gives(default_stacks: dict[str, StackJson]) -> None:
    """moved_from computes old addresses the way cdktf does; checked on every resource of a stack."""
    stack = default_stacks["tooling"]
    for items in stack.data["resource"].values():
        for name, body in items.items():
            path = body["//"]["metadata"]["path"].split("/")[1:]
            assert logical_id(path) == name


def together(*configs: dict) -> dict:
    """Several synthesized stacks of one provider configuration as one root module."""
    merged = {**configs[0], "resource": {}, "moved": []}
    for config in configs:
        for rtype, items in config.get("resource", {}).items():
            merged["resource"].setdefault(rtype, {}).update(items)
        merged["moved"] += config.get("moved", [])
    return merged


BUCKET_STATE = {OLD_ADDRESS: {"id": BUCKET, "bucket": BUCKET, "force_destroy": False, "tags": {}, "tags_all": {}}}


@pytest.fixture(scope="module")
def old_state_plans(versions: tuple[dict, dict], cluster: dict,
                    tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Change]]:
    """The refactored bucket and our cluster planned against one state holding both their old
    addresses, with the moved blocks and without: one directory and two plans for both tests
    below (each plan and each show starts the AWS provider and reads its schema, seconds of CPU)."""
    config = together(versions[1], cluster)
    with planning(config, state_holding({**BUCKET_STATE, **OLD_STATE}), tmp_path_factory.mktemp("old-state")) as plan:
        return {"moved": plan(config), "without moves": plan(without_moves(config))}


def bucket_changes(changes: list[Change]) -> list[Change]:
    return [change for change in changes if change[0].startswith("aws_s3_bucket.")]


def cluster_changes(changes: list[Change]) -> list[Change]:
    return [change for change in changes if not change[0].startswith("aws_s3_bucket.")]


@pytest.mark.terraform
def test_plan_moves_instead_of_destroying(versions: tuple[dict, dict], old_state_plans: dict[str, list[Change]]) -> None:
    new_address = f"aws_s3_bucket.{next(iter(versions[1]['resource']['aws_s3_bucket']))}"
    # Without the move: the protected bucket's old address is destroyed, a new one created.
    assert bucket_changes(old_state_plans["without moves"]) == [(OLD_ADDRESS, None, ["delete"]),
                                                                (new_address, None, ["create"])]
    # With it: nothing to do but record the new address.
    assert bucket_changes(old_state_plans["moved"]) == [(new_address, OLD_ADDRESS, ["no-op"])]


@pytest.mark.terraform
def test_plan_of_a_cluster_with_old_addresses_moves_them(old_state_plans: dict[str, list[Change]]) -> None:
    changes = cluster_changes(old_state_plans["moved"])
    # Every resource the old version created plans as a move with nothing to change;
    # everything else (not in this state) is created, and nothing is destroyed.
    moved = {previous: (address, actions) for address, previous, actions in changes if previous}
    assert sorted(moved) == sorted(OLD_STATE)
    for old, (new, actions) in moved.items():
        assert new.startswith(NEW_ADDRESSES[old]) and actions == ["no-op"], (old, new, actions)
    assert {tuple(actions) for address, previous, actions in changes if not previous} == {("create",)}
    # Without the moved blocks the same state would lose each of them: destroyed, and
    # created again under its new address.
    deleted = sorted(address for address, _, actions in cluster_changes(old_state_plans["without moves"])
                     if actions == ["delete"])
    assert deleted == sorted(OLD_STATE)
