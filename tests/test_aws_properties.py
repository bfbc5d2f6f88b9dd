"""What a reviewer must be able to trust in the tooling and application stacks, asserted on
the synthesized JSON: encryption on, nothing public, least privilege, peering both ways."""

from __future__ import annotations

import ipaddress
import json
import re

import pytest

from tests.synth import StackJson
from vault_platform.addons import addons_for, with_irsa
from vault_platform.cluster_roles import BOTH

REFERENCE = re.compile(r"^\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.")


def referenced_address(expression: str) -> str:
    """'${aws_kms_key.x.arn}' -> 'aws_kms_key.x'."""
    match = REFERENCE.match(expression)
    assert match, f"not a resource reference: {expression}"
    return f"{match.group(1)}.{match.group(2)}"


def json_with_interpolations(text: str) -> dict:
    """Parse a policy as Terraform will see it once interpolated: each ``${...}`` stays as
    its expression text (quotes inside it escaped), so assertions can name references."""
    out, depth, index = [], 0, 0
    while index < len(text):
        if text.startswith("${", index):
            depth += 1
            out.append("${")
            index += 2
            continue
        char = text[index]
        if depth and char == "}":
            depth -= 1
        elif depth and char == '"':
            char = '\\"'
        out.append(char)
        index += 1
    return json.loads("".join(out))


def policy(resource: dict, attribute: str = "policy") -> dict:
    return json_with_interpolations(resource[attribute])


def statements(document: dict) -> list[dict]:
    return document["Statement"]


def as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


@pytest.fixture(params=["tooling", "application"])
def stack(request: pytest.FixtureRequest, default_stacks: dict[str, StackJson]) -> StackJson:
    return default_stacks[request.param]


# --- encryption at rest ---------------------------------------------------------------

def test_every_kms_key_rotates_has_a_policy_and_cannot_be_destroyed(stack: StackJson) -> None:
    keys = stack.resources("aws_kms_key")
    assert keys
    for name, key in keys.items():
        assert key["enable_key_rotation"] is True, name
        assert key["deletion_window_in_days"] == 30, name
        assert key["lifecycle"]["prevent_destroy"] is True, name
        first = statements(policy(key))[0]
        assert first["Principal"]["AWS"].endswith(":root") and first["Action"] == "kms:*", name


def test_eks_secrets_are_envelope_encrypted_with_a_customer_key(stack: StackJson) -> None:
    cluster = stack.one("aws_eks_cluster")
    encryption = cluster["encryption_config"]
    assert encryption["resources"] == ["secrets"]
    assert referenced_address(encryption["provider"]["key_arn"]).startswith("aws_kms_key.")


def test_node_volumes_are_encrypted_with_the_ebs_key_and_imds_is_hardened(stack: StackJson) -> None:
    for name, template in stack.resources("aws_launch_template").items():
        ebs = template["block_device_mappings"][0]["ebs"]
        assert ebs["encrypted"] == "true" and ebs["volume_type"] == "gp3", name
        assert referenced_address(ebs["kms_key_id"]).startswith("aws_kms_key.ebs-key"), name
        assert template["metadata_options"]["http_tokens"] == "required", name
        assert template["metadata_options"]["http_put_response_hop_limit"] == 1, name


def test_log_groups_are_encrypted_and_expire(stack: StackJson) -> None:
    groups = stack.resources("aws_cloudwatch_log_group")
    assert groups
    for name, group in groups.items():
        assert referenced_address(group["kms_key_id"]).startswith("aws_kms_key.logs-key"), name
        assert group["retention_in_days"] >= 30, name


def test_efs_is_encrypted_backed_up_tls_only_and_protected(tooling: StackJson) -> None:
    file_system = tooling.one("aws_efs_file_system")
    assert file_system["encrypted"] is True
    assert referenced_address(file_system["kms_key_id"]).startswith("aws_kms_key.efs-key")
    assert file_system["lifecycle"]["prevent_destroy"] is True
    assert tooling.one("aws_efs_backup_policy")["backup_policy"]["status"] == "ENABLED"
    by_effect = {s["Effect"]: s for s in statements(policy(tooling.one("aws_efs_file_system_policy")))}
    assert set(by_effect) == {"Deny", "Allow"}
    assert by_effect["Deny"]["Action"] == "*" and by_effect["Deny"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # Any policy replaces EFS's default allow: without this the CSI driver's (non-IAM) mounts fail.
    allow = by_effect["Allow"]
    assert sorted(allow["Action"]) == ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
    assert allow["Condition"] == {"Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}}
    mount_targets = tooling.resources("aws_efs_mount_target")
    assert len(mount_targets) == 3
    assert all("private" in target["subnet_id"] for target in mount_targets.values())


def test_database_is_private_encrypted_multi_az_and_protected(application: StackJson) -> None:
    db = application.one("aws_db_instance")
    assert db["publicly_accessible"] is False
    assert db["storage_encrypted"] is True and referenced_address(db["kms_key_id"]).startswith("aws_kms_key.database-key")
    assert db["multi_az"] is True
    assert db["deletion_protection"] is True and db["lifecycle"]["prevent_destroy"] is True
    assert db["skip_final_snapshot"] is False
    assert db["manage_master_user_password"] is True and "password" not in db
    force_ssl = application.one("aws_db_parameter_group")["parameter"]
    assert {"name": "rds.force_ssl", "value": "1"} in force_ssl


def test_ecr_repositories_are_immutable_scanned_encrypted_and_protected(tooling: StackJson) -> None:
    repositories = tooling.resources("aws_ecr_repository")
    assert {repo["name"] for repo in repositories.values()} == {"demo/demo-app", "demo/ci-build-images"}
    for name, repo in repositories.items():
        assert repo["image_tag_mutability"] == "IMMUTABLE", name
        assert repo["image_scanning_configuration"]["scan_on_push"] is True, name
        assert repo["encryption_configuration"][0]["encryption_type"] == "KMS", name
        assert repo["lifecycle"]["prevent_destroy"] is True and repo["force_delete"] is False, name


# --- nothing public -----------------------------------------------------------------------

def test_eks_api_is_private_only_by_default(stack: StackJson) -> None:
    vpc_config = stack.one("aws_eks_cluster")["vpc_config"]
    assert vpc_config["endpoint_private_access"] is True
    assert vpc_config["endpoint_public_access"] is False
    assert "public_access_cidrs" not in vpc_config
    assert all("private" in subnet for subnet in vpc_config["subnet_ids"])


def test_no_security_group_rule_admits_the_internet(stack: StackJson) -> None:
    for name, rule in stack.resources("aws_vpc_security_group_ingress_rule").items():
        cidr = rule.get("cidr_ipv4")
        if cidr is not None:
            assert ipaddress.IPv4Network(cidr).is_private, f"{name} admits {cidr}"
        assert rule.get("cidr_ipv6") is None, name
    for name, group in stack.resources("aws_security_group").items():
        assert "ingress" not in group, f"{name}: inline rules hide from review; use separate rules"


def test_default_security_group_is_locked_down(stack: StackJson) -> None:
    default = stack.one("aws_default_security_group")
    assert "ingress" not in default and "egress" not in default


def test_public_subnets_do_not_hand_out_public_addresses(stack: StackJson) -> None:
    for name, subnet in stack.resources("aws_subnet").items():
        assert subnet.get("map_public_ip_on_launch") in (None, False), name


def test_database_is_reachable_only_from_the_two_cluster_security_groups(application: StackJson) -> None:
    db_group = next(n for n in application.resources("aws_security_group") if n.startswith("database_"))
    rules = [r for r in application.resources("aws_vpc_security_group_ingress_rule").values()
             if r["security_group_id"] == f"${{aws_security_group.{db_group}.id}}"]
    assert len(rules) == 2
    assert all(rule["from_port"] == rule["to_port"] == 5432 and "cidr_ipv4" not in rule for rule in rules)
    sources = sorted(rule["referenced_security_group_id"] for rule in rules)
    assert sources[0].startswith("${aws_eks_cluster.eks_cluster_")  # the application cluster's group
    assert "cross-stack-output-aws_eks_cluster" in sources[1]  # the tooling cluster's group (Vault)


def test_no_8200_rule_on_the_tooling_cluster_and_the_tokenreview_rule_names_vaults_group(application: StackJson) -> None:
    """Vault is reached through its NLB, whose own group the load balancer controller makes
    (vault_platform/flows/): nothing opens 8200 on the tooling cluster's group. Vault's
    Kubernetes auth calls this cluster's API from the tooling cluster's group."""
    rules = application.resources("aws_vpc_security_group_ingress_rule")
    assert not [r for r in rules.values() if r.get("from_port") == 8200]
    rule = rules["kubernetes-api-from-vault"]
    assert rule["from_port"] == rule["to_port"] == 443 and "cidr_ipv4" not in rule
    assert rule["security_group_id"].startswith("${aws_eks_cluster.eks_cluster_")
    assert "cross-stack-output-aws_eks_cluster" in rule["referenced_security_group_id"]


# --- network shape --------------------------------------------------------------------------

def test_three_zones_with_a_nat_gateway_each_and_private_routes_through_it(stack: StackJson) -> None:
    subnets = stack.resources("aws_subnet")
    zones = {s["availability_zone"] for s in subnets.values()}
    # The first three zones AWS lists at plan time (config/regions.py), by position.
    assert zones == {f"${{element(data.aws_availability_zones.zones.names, {i})}}" for i in range(3)}
    assert len(stack.resources("aws_nat_gateway")) == 3
    defaults = [r for r in stack.resources("aws_route").values() if r.get("destination_cidr_block") == "0.0.0.0/0"]
    assert sum("nat_gateway_id" in r for r in defaults) == 3 and sum("gateway_id" in r for r in defaults) == 1


def test_vpc_endpoints_keep_aws_traffic_private(stack: StackJson) -> None:
    endpoints = {e["service_name"].rsplit(".", 2)[-2:][-1] if e["vpc_endpoint_type"] == "Gateway" else
                 e["service_name"].split("eu-west-1.")[1]: e for e in stack.resources("aws_vpc_endpoint").values()}
    assert set(endpoints) == {"s3", "ecr.api", "ecr.dkr", "sts", "kms", "logs"}
    assert endpoints["s3"]["vpc_endpoint_type"] == "Gateway"
    assert all(e["private_dns_enabled"] for k, e in endpoints.items() if k != "s3")


def test_flow_logs_capture_all_traffic(stack: StackJson) -> None:
    assert stack.one("aws_flow_log")["traffic_type"] == "ALL"


def test_peering_routes_exist_both_ways(application: StackJson) -> None:
    routes = [r for r in application.resources("aws_route").values() if "vpc_peering_connection_id" in r]
    to_tooling = [r for r in routes if r["destination_cidr_block"] == "10.10.0.0/16"]
    to_application = [r for r in routes if r["destination_cidr_block"] == "10.20.0.0/16"]
    assert len(to_tooling) == 3 and all(r["route_table_id"].startswith("${aws_route_table.") for r in to_tooling)
    assert len(to_application) == 3
    assert all("cross-stack-output-aws_route_table" in r["route_table_id"] for r in to_application)


def test_private_zone_is_shared_with_the_application_vpc(tooling: StackJson, application: StackJson) -> None:
    zone = tooling.one("aws_route53_zone")
    assert zone["name"] == "tooling.internal" and zone["vpc"][0]["vpc_id"].startswith("${aws_vpc.")
    association = application.one("aws_route53_zone_association")
    assert "cross-stack-output-aws_route53_zone" in association["zone_id"]
    assert association["vpc_id"].startswith("${aws_vpc.")


# --- least privilege ------------------------------------------------------------------------

# Role suffix -> the one subject its trust policy names, per cluster, from the add-on registry
# (the default environment has every feature on, tooling.efs_enabled included).
IRSA_BINDINGS = {
    role: {addon.irsa.role_suffix: f"system:serviceaccount:{addon.irsa.namespace}:{addon.irsa.service_account}"
           for addon in with_irsa(addons_for(role))}
    for role in BOTH
}


def irsa_roles(stack: StackJson) -> dict[str, dict]:
    """Roles trusted through the cluster's own OIDC provider (not the GitLab CI roles)."""
    return {role["name"].split("-", 2)[2]: role for role in stack.resources("aws_iam_role").values()
            if "aws_iam_openid_connect_provider.eks_oidc-provider" in role["assume_role_policy"]}


def test_each_irsa_role_trusts_exactly_one_service_account_of_its_own_cluster(stack: StackJson) -> None:
    roles = irsa_roles(stack)
    assert set(roles) == set(IRSA_BINDINGS[stack.stack_id])
    cluster = next(iter(stack.resources("aws_eks_cluster")))
    for suffix, role in roles.items():
        (statement,) = statements(policy(role, "assume_role_policy"))
        assert statement["Principal"]["Federated"] == f"${{aws_iam_openid_connect_provider.eks_oidc-provider_07CEC079.arn}}"
        conditions = statement["Condition"]["StringEquals"]
        assert len(conditions) == 2, suffix
        sub = next(v for k, v in conditions.items() if k.endswith(":sub"))
        aud = next(v for k, v in conditions.items() if k.endswith(":aud"))
        assert sub == IRSA_BINDINGS[stack.stack_id][suffix] and aud == "sts.amazonaws.com", suffix
        assert all(f"aws_eks_cluster.{cluster}.identity" in key for key in conditions), suffix
        assert "StringLike" not in statement["Condition"], f"{suffix}: wildcards widen the trust"


def inline_policy_of(stack: StackJson, role_suffix: str) -> list[dict]:
    role_address = next(name for name, role in stack.resources("aws_iam_role").items()
                        if role["name"].endswith(f"-{role_suffix}"))
    documents = [policy(p) for p in stack.resources("aws_iam_role_policy").values()
                 if p["role"] == f"${{aws_iam_role.{role_address}.id}}"]
    assert len(documents) == 1, role_suffix
    return statements(documents[0])


def test_vault_can_only_use_its_unseal_key(tooling: StackJson) -> None:
    (statement,) = inline_policy_of(tooling, "vault")
    assert statement["Action"] == ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt"]
    unseal_key = next(k for k in tooling.resources("aws_kms_key") if k.startswith("vault-unseal-key"))
    assert [referenced_address(r) for r in statement["Resource"]] == [f"aws_kms_key.{unseal_key}"]


def test_gitlab_runner_pushes_only_to_the_platform_repositories(tooling: StackJson) -> None:
    login, push = inline_policy_of(tooling, "gitlab-runner")
    assert login["Action"] == ["ecr:GetAuthorizationToken"] and login["Resource"] == "*"
    assert all(referenced_address(r).startswith("aws_ecr_repository.") for r in push["Resource"])
    assert not any(action.startswith("ecr:Delete") for action in push["Action"])


def test_external_dns_changes_only_the_private_zone(tooling: StackJson) -> None:
    change, listing = inline_policy_of(tooling, "external-dns")
    assert "route53:ChangeResourceRecordSets" in change["Action"]
    assert [referenced_address(r) for r in change["Resource"]] == [f"aws_route53_zone.{next(iter(tooling.resources('aws_route53_zone')))}"]
    assert listing["Action"] == ["route53:ListHostedZones"]


def test_no_inline_policy_grants_a_wildcard_action(stack: StackJson) -> None:
    for name, role_policy in stack.resources("aws_iam_role_policy").items():
        for statement in statements(policy(role_policy)):
            for action in as_list(statement["Action"]):
                assert action != "*" and not action.endswith(":*"), f"{name} grants {action}"


def test_load_balancer_controller_writes_only_to_its_own_cluster_resources(stack: StackJson) -> None:
    cluster_name = stack.one("aws_eks_cluster")["name"]
    for statement in inline_policy_of(stack, "aws-load-balancer-controller"):
        writes = [a for a in as_list(statement["Action"]) if not a.split(":")[1].startswith(("Describe", "Get", "List"))]
        # Listeners and their rules belong to load balancers only this cluster can create or change.
        if statement.get("Sid") in ("ElbServiceLinkedRole", "CreateSecurityGroup", "Listeners", "ListenerRules") or not writes:
            continue
        tag_values = json.dumps(statement.get("Condition", {}))
        assert cluster_name in tag_values, f"{statement.get('Sid')}: writes without the cluster tag condition"


def test_nodes_carry_no_cni_policy_it_goes_through_irsa(stack: StackJson) -> None:
    node_role = next(a for a, r in stack.resources("aws_iam_role").items() if r["name"].endswith("-node"))
    attached = [p["policy_arn"] for p in stack.resources("aws_iam_role_policy_attachment").values()
                if p["role"] == f"${{aws_iam_role.{node_role}.name}}"]
    assert sorted(attached) == ["arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly",
                                "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"]


# --- cluster shape --------------------------------------------------------------------------

def test_cluster_uses_access_entries_logs_everything_and_has_core_addons(stack: StackJson) -> None:
    cluster = stack.one("aws_eks_cluster")
    assert cluster["access_config"]["authentication_mode"] == "API"
    assert sorted(cluster["enabled_cluster_log_types"]) == ["api", "audit", "authenticator", "controllerManager", "scheduler"]
    assert cluster["version"] == "1.35"
    addons = {a["addon_name"]: a for a in stack.resources("aws_eks_addon").values()}
    efs = {"aws-efs-csi-driver"} if stack.stack_id == "tooling" else set()  # tooling.efs_enabled, on by default
    assert set(addons) == {"vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver"} | efs
    assert addons["aws-ebs-csi-driver"]["service_account_role_arn"].startswith("${aws_iam_role.eks_ebs-csi-irsa")
    cluster_oidc = [p for n, p in stack.resources("aws_iam_openid_connect_provider").items() if n.startswith("eks_")]
    assert len(cluster_oidc) == 1 and cluster_oidc[0]["client_id_list"] == ["sts.amazonaws.com"]
    assert cluster_oidc[0]["url"].startswith("${aws_eks_cluster.eks_cluster_")


def test_outputs_cover_what_the_platform_layer_needs(tooling: StackJson, application: StackJson) -> None:
    common = {"cluster_name", "cluster_endpoint", "cluster_certificate_authority", "oidc_provider_arn", "vpc_id",
              "private_subnet_ids", "load_balancer_controller_role_arn", "external_dns_role_arn",
              "ebs_kms_key_arn"}
    assert common | {"vault_kms_key_id", "vault_role_arn", "gitlab_runner_role_arn", "private_zone_id",
                     "efs_file_system_id"} <= set(tooling.outputs())
    assert common | {"database_address", "database_master_secret_arn", "peering_connection_id"} <= set(application.outputs())
    # External Secrets reads Vault only: its empty IRSA role went (issue 24), output and var with it.
    assert "external_secrets_role_arn" not in {*tooling.outputs(), *application.outputs()}
    for stack in (tooling, application):
        for name, output in stack.outputs().items():
            if not name.startswith("cross-stack-output-"):
                assert output.get("description"), f"{stack.stack_id} output {name} has no description"


