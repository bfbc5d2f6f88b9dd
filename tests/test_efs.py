"""Shared storage on EFS (tooling.efs_enabled): the tooling cluster gets the EFS CSI add-on
with its own IRSA role and a StorageClass on the file system; switched off, an environment
synthesizes without any of it, and its tooling ConfigMap lacks the EFS keys."""

from __future__ import annotations

import json
import re

import pytest

from tests.helpers import environment_variant, set_at
from tests.synth import StackJson, synth_config
from vault_platform.gitops import platform_vars

EFS_TYPES = ("aws_efs_file_system", "aws_efs_mount_target", "aws_efs_access_point", "aws_efs_file_system_policy",
             "aws_efs_backup_policy")
EFS_KEYS = {"EFS_FILE_SYSTEM_ID", "EFS_ACCESS_POINT_ID"}
CI_KEYS = {"GITLAB_URL", "GITLAB_RUNNER_SUSPEND"}


def addon(stack: StackJson, name: str) -> dict | None:
    return next((a for a in stack.resources("aws_eks_addon").values() if a["addon_name"] == name), None)


def role_named_by(stack: StackJson, expression: str) -> dict:
    return stack.resources("aws_iam_role")[re.fullmatch(r"\$\{aws_iam_role\.([\w-]+)\.arn\}", expression).group(1)]


def efs_storage_class(stack: StackJson) -> dict | None:
    return next((sc for sc in stack.resources("kubernetes_storage_class_v1").values()
                 if sc["storage_provisioner"] == "efs.csi.aws.com"), None)


# --- on (the default environment) -----------------------------------------------------------

def test_efs_csi_addon_runs_as_the_controller_service_account_with_the_aws_policy(tooling: StackJson) -> None:
    efs = addon(tooling, "aws-efs-csi-driver")
    assert efs is not None
    assert efs["depends_on"] == addon(tooling, "aws-ebs-csi-driver")["depends_on"], "a Deployment: needs the nodes first"
    assert all(d.startswith("aws_eks_node_group.") for d in efs["depends_on"])
    role_key = re.fullmatch(r"\$\{aws_iam_role\.([\w-]+)\.arn\}", efs["service_account_role_arn"]).group(1)
    trust = tooling.resources("aws_iam_role")[role_key]["assume_role_policy"]
    assert re.findall(r'"system:serviceaccount:([^"]+)"', trust) == ["kube-system:efs-csi-controller-sa"]
    assert '"sts:AssumeRoleWithWebIdentity"' in trust and '"StringEquals"' in trust
    attached = [a["policy_arn"] for a in tooling.resources("aws_iam_role_policy_attachment").values()
                if a["role"] == f"${{aws_iam_role.{role_key}.name}}"]
    assert attached == ["arn:aws:iam::aws:policy/service-role/AmazonEFSCSIDriverPolicy"]


def test_application_cluster_has_no_efs_driver(application: StackJson) -> None:
    assert addon(application, "aws-efs-csi-driver") is None


def test_mount_targets_admit_nfs_from_the_security_group_the_nodes_carry(tooling: StackJson) -> None:
    # Managed nodes get the cluster security group when their launch template names none;
    # the CSI node plugin mounts from the node, so that group is where NFS comes from.
    for name, template in tooling.resources("aws_launch_template").items():
        assert "vpc_security_group_ids" not in template and "network_interfaces" not in template, name
    cluster_group = "${aws_eks_cluster.eks_cluster_55B0C966.vpc_config[0].cluster_security_group_id}"
    groups = {t["security_groups"][0] for t in tooling.resources("aws_efs_mount_target").values()}
    assert len(groups) == 1
    group_key = re.fullmatch(r"\$\{aws_security_group\.([\w-]+)\.id\}", groups.pop()).group(1)
    rules = [r for r in tooling.resources("aws_vpc_security_group_ingress_rule").values()
             if r["security_group_id"] == f"${{aws_security_group.{group_key}.id}}"]
    assert [(r["ip_protocol"], r["from_port"], r["to_port"], r["referenced_security_group_id"]) for r in rules] == \
        [("tcp", 2049, 2049, cluster_group)]


def test_storage_class_provisions_access_points_on_the_tooling_file_system(default_stacks: dict[str, StackJson]) -> None:
    storage_class = efs_storage_class(default_stacks["tooling-platform"])
    assert storage_class is not None
    assert storage_class["metadata"] == {"name": "efs-shared",
                                         "annotations": {"storageclass.kubernetes.io/is-default-class": "false"}}
    parameters = storage_class["parameters"]
    assert (parameters["provisioningMode"], parameters["directoryPerms"]) == ("efs-ap", "700")
    assert storage_class["reclaim_policy"] == "Retain"
    assert storage_class["mount_options"] == ["tls"]
    output = re.fullmatch(r"\$\{data\.terraform_remote_state\.cross-stack-reference-input-tooling\.outputs\.([\w-]+)\}",
                          parameters["fileSystemId"]).group(1)
    assert default_stacks["tooling"].outputs()[output]["value"] == "${aws_efs_file_system.efs_file-system_44A43371.id}"
    assert efs_storage_class(default_stacks["application-platform"]) is None


def test_efs_keys_are_optional_and_on_by_default(default_stacks: dict[str, StackJson]) -> None:
    # GITLAB_URL and GITLAB_RUNNER_SUSPEND are optional too: only an environment with [ci] has them (tests/test_ci_trust.py).
    assert set(platform_vars.optional_keys_for("tooling")) == EFS_KEYS | CI_KEYS
    assert platform_vars.optional_keys_for("application") == {}
    assert EFS_KEYS <= set(default_stacks["tooling-platform"].one("kubernetes_config_map_v1")["data"])


# --- off ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def without_efs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, StackJson]:
    """The default environment with ``[tooling] efs_enabled = false``, through the same
    synthesize() as main.py."""
    env = environment_variant(set_at("tooling.efs_enabled", False), name="noefs")
    stacks = synth_config(env, "noefs", tmp_path_factory.mktemp("noefs") / "cdktf.out")
    return {stack_id.removeprefix("noefs-"): stack for stack_id, stack in stacks.items()}


def test_without_efs_every_stack_synthesizes(without_efs: dict[str, StackJson]) -> None:
    assert set(without_efs) == {"tooling", "application", "tooling-platform", "application-platform", "vpn"}


def test_without_efs_no_file_system_key_driver_or_role(without_efs: dict[str, StackJson]) -> None:
    tooling = without_efs["tooling"]
    for resource_type in EFS_TYPES:
        assert not tooling.resources(resource_type), resource_type
    assert not [k for k in tooling.resources("aws_kms_key") if k.startswith("efs-key")]
    assert len(tooling.resources("aws_kms_key")) >= 4, "the other keys are still there"
    assert addon(tooling, "aws-efs-csi-driver") is None and addon(tooling, "aws-ebs-csi-driver") is not None
    assert "efs-csi-controller-sa" not in json.dumps(tooling.resources("aws_iam_role"))
    assert not {"efs_file_system_id", "efs_access_point_id"} & set(tooling.outputs())


def test_without_efs_no_storage_class_and_no_efs_keys(without_efs: dict[str, StackJson]) -> None:
    platform = without_efs["tooling-platform"]
    assert efs_storage_class(platform) is None
    classes = {sc["metadata"]["name"] for sc in platform.resources("kubernetes_storage_class_v1").values()}
    assert classes == {"gp3-encrypted", "gp3-encrypted-retain"}
    data = platform.one("kubernetes_config_map_v1")["data"]
    assert set(data) == set(platform_vars.keys_for("tooling")) - EFS_KEYS - CI_KEYS  # the default has no [ci]
    for stack in without_efs.values():
        assert "efs" not in json.dumps(stack.data.get("resource", {})).lower().replace("noefs", ""), stack.stack_id
