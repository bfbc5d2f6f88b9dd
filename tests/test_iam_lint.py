"""The IAM lint (vault_platform/ops/iam_lint.py) over every environment's synthesized policies:
no finding without a written reason, no reason without a finding, every principal there
on a fresh account; and the lint rejects the defects it was written for."""

from __future__ import annotations

import pytest

from tests.synth import StackJson
from vault_platform.app import STATE_BOOTSTRAP, stack_id, stack_order
from vault_platform.ops.accepted_findings import collect
from vault_platform.config import environment_names, load_environment
from vault_platform.constructs.policy import (
    SOURCE_CONDITIONS_DOCUMENTED,
    SOURCE_CONDITIONS_NOT_DOCUMENTED,
    allow,
    policy_document,
    service_assume_role_policy,
)
from vault_platform.ops.iam_lint import IamLintInputError, Placement, lint_stacks, placement_of, report_lines
from vault_platform.addons.aws_load_balancer_controller.policy import load_balancer_controller_statements

ENVIRONMENTS = environment_names()


@pytest.fixture(scope="module")
def environments(all_environment_output: dict[str, StackJson]) -> dict[str, dict[str, dict]]:
    """environment -> stack id -> JSON, bootstrap stacks included (they write the state key's
    policy): the session's one synth of every environment (tests/conftest.py)."""
    result = {}
    for name in ENVIRONMENTS:
        ids = [stack_id(name, STATE_BOOTSTRAP), *stack_order(load_environment(name), name)]
        result[name] = {sid: all_environment_output[sid].data for sid in ids if sid in all_environment_output}
    return result


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_policy_passes_the_lint_or_has_a_reason(environment: str, environments: dict) -> None:
    result = lint_stacks(environments[environment], placement_of(load_environment(environment)))
    assert not result.failed, "\n".join(report_lines(result))
    assert result.accepted, "the lint saw no policy at all"


def test_no_accepted_finding_is_stale(environments: dict) -> None:
    used = set()
    for environment in ENVIRONMENTS:
        used |= lint_stacks(environments[environment], placement_of(load_environment(environment))).used_keys
    stale = {key: module for key, (_, module) in collect("PARLIAMENT_ACCEPTED").items() if key not in used}
    assert not stale, f"PARLIAMENT_ACCEPTED entries no environment needs any more, remove them: {stale}"


def _one_policy_stack(resource_type: str, attribute: str, policy: str, **extra: object) -> dict[str, dict]:
    body = {attribute: policy, "//": {"metadata": {"path": f"bad/{resource_type}"}}, **extra}
    return {"bad": {"resource": {resource_type: {"thing": body}}}}


WHERE = Placement(region="eu-west-1")


def test_a_key_policy_naming_a_service_linked_role_fails_with_the_fix() -> None:
    slr = "arn:aws:iam::${data.aws_caller_identity.caller.account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    policy = policy_document([{"Sid": "AutoScaling", "Effect": "Allow", "Principal": {"AWS": slr},
                               "Action": "kms:Decrypt", "Resource": "*"}])
    result = lint_stacks(_one_policy_stack("aws_kms_key", "policy", policy), WHERE, accepted={})
    lines = [f.line() for f in result.failed if f.issue == "PRINCIPAL_MAY_NOT_EXIST"]
    assert len(lines) == 1 and "AWSServiceRoleForAutoScaling" in lines[0] and "aws:PrincipalArn" in lines[0], lines


def test_a_literal_role_in_a_trust_policy_fails_but_a_reference_passes() -> None:
    def trust(principal: str) -> str:
        return policy_document([{"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}])
    literal = lint_stacks(_one_policy_stack("aws_iam_role", "assume_role_policy", trust("arn:aws:iam::123456789012:role/x")),
                          WHERE, accepted={})
    referenced = lint_stacks(_one_policy_stack("aws_iam_role", "assume_role_policy", trust("${aws_iam_role.other.arn}")),
                             WHERE, accepted={})
    assert [f.issue for f in literal.failed] == ["PRINCIPAL_MAY_NOT_EXIST"]
    assert not referenced.failed


def test_a_listener_created_on_listener_arns_is_not_covered() -> None:
    """The load balancer controller's old policy: CreateListener is authorized on the load balancer."""
    policy = policy_document([allow(["elasticloadbalancing:CreateListener"],
                                    ["arn:aws:elasticloadbalancing:*:*:listener/net/*/*/*"], sid="Listeners")])
    result = lint_stacks(_one_policy_stack("aws_iam_role_policy", "policy", policy), WHERE, accepted={})
    assert [(f.issue, f.sid) for f in result.failed] == [("RESOURCE_NOT_COVERED", "Listeners")]
    assert "loadbalancer/net" in result.failed[0].detail


def test_a_policy_the_linter_rejects_names_stack_statement_and_fix() -> None:
    policy = policy_document([allow(["s3:GetObjectt"], ["arn:aws:s3:::bucket/*"], sid="Typo")])
    result = lint_stacks(_one_policy_stack("aws_iam_role_policy", "policy", policy), WHERE, accepted={})
    lines = report_lines(result)
    assert any("UNKNOWN_ACTION bad: bad/aws_iam_role_policy statement Typo" in line for line in lines), lines
    assert any("PARLIAMENT_ACCEPTED" in line for line in lines)


def test_an_untyped_reference_fails_with_where_to_type_it() -> None:
    policy = policy_document([allow(["sqs:SendMessage"], ["${aws_sqs_queue.q.arn}"])])
    with pytest.raises(IamLintInputError, match=r"aws_sqs_queue.*PLACEHOLDERS"):
        lint_stacks(_one_policy_stack("aws_iam_role_policy", "policy", policy), WHERE, accepted={})


def test_load_balancer_controller_grants_what_v2_13_calls_on_its_resources() -> None:
    """Calls of controller v2.13.0 the old policy missed (derived from its source and published policy)."""
    statements = {s["Sid"]: s for s in load_balancer_controller_statements("demo-tooling")}
    granted = {(action, resource) for s in statements.values() for action in s["Action"]
               for resource in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])}
    listener = "arn:aws:elasticloadbalancing:*:*:listener/net/*/*/*"
    assert ("elasticloadbalancing:AddTags", listener) in granted, "v2.13 tags listeners on create"
    assert ("elasticloadbalancing:CreateListener", "arn:aws:elasticloadbalancing:*:*:loadbalancer/net/*/*") in granted
    assert ("elasticloadbalancing:ModifyListenerAttributes", listener) in granted
    backend = statements["BackendRulesOnClusterSecurityGroups"]
    assert backend["Condition"]["StringEquals"] == {"aws:ResourceTag/kubernetes.io/cluster/demo-tooling": ["owned", "shared"]}
    assert {"ec2:DescribeIpamPools", "elasticloadbalancing:ModifyIpPools", "elasticloadbalancing:SetRulePriorities"} <= \
        {action for s in statements.values() for action in s["Action"]}


# What each add-on's pinned version calls, read from its source and published policy at that
# tag (README "Fresh-account checks"): every call must be granted by the add-on's own role.
ADDON_CALLS = {
    # external-dns chart 1.15.0 = v0.15.0: provider/aws/aws.go; docs/tutorials/aws.md's policy.
    "external-dns": {"route53:ChangeResourceRecordSets", "route53:ListHostedZones",
                     "route53:ListResourceRecordSets", "route53:ListTagsForResource"},
    # Vault's awskms seal (Vault docs, seal "awskms": required permissions).
    "vault": {"kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"},
    # controller v2.13.0: the SDK calls of pkg/aws/services at that tag that this platform's NLBs need.
    "aws-load-balancer-controller": {
        "elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup",
        "elasticloadbalancing:CreateListener", "elasticloadbalancing:ModifyListenerAttributes",
        "elasticloadbalancing:AddTags", "elasticloadbalancing:RegisterTargets", "elasticloadbalancing:ModifyIpPools",
        "elasticloadbalancing:DescribeListenerAttributes", "elasticloadbalancing:DescribeCapacityReservation",
        "ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:DescribeIpamPools",
        "ec2:GetSecurityGroupsForVpc"},
    # image-reflector-controller v1.1.0 with provider: aws: the registry login token, the tag
    # list (registry API tags/list, authorized as ecr:ListImages) and a manifest read for the
    # picked tag's digest (ecr:BatchGetImage). Nothing that writes (check 6 holds it read-only).
    "flux-image-reflector": {"ecr:GetAuthorizationToken", "ecr:ListImages", "ecr:BatchGetImage"},
}


@pytest.mark.parametrize("role_suffix", sorted(ADDON_CALLS))
def test_addon_roles_grant_what_their_pinned_version_calls(role_suffix: str, tooling: StackJson) -> None:
    from tests.test_aws_properties import as_list, inline_policy_of

    granted = {action for statement in inline_policy_of(tooling, role_suffix) if statement["Effect"] == "Allow"
               for action in as_list(statement["Action"])}
    missing = ADDON_CALLS[role_suffix] - granted
    assert not missing, f"the {role_suffix} role misses calls its pinned version makes: {sorted(missing)}"


def test_trust_policy_allowances_cover_only_what_parliament_cannot_know() -> None:
    """No Resource in a trust policy is fine; a misspelt action in one is not."""
    good = policy_document([{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}])
    typo = policy_document([{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRol"}])
    assert not lint_stacks(_one_policy_stack("aws_iam_role", "assume_role_policy", good), WHERE, accepted={}).failed
    failed = lint_stacks(_one_policy_stack("aws_iam_role", "assume_role_policy", typo), WHERE, accepted={}).failed
    assert [f.issue for f in failed] == ["UNKNOWN_ACTION"]
    misspelt_claim = policy_document([{"Effect": "Allow", "Principal": {"Federated": "${aws_iam_openid_connect_provider.p.arn}"},
                                       "Action": "sts:AssumeRoleWithWebIdentity",
                                       "Condition": {"StringEquals": {"oidc.example.com:sbu": "system:serviceaccount:a:b"}}}])
    failed = lint_stacks(_one_policy_stack("aws_iam_role", "assume_role_policy", misspelt_claim), WHERE, accepted={}).failed
    assert [f.issue for f in failed] == ["UNKNOWN_CONDITION_FOR_ACTION"] and "sbu" in failed[0].detail


def test_accepted_findings_are_listed_on_request() -> None:
    """Before: "75 accepted with a reason" and no way to see them."""
    policy = policy_document([allow(["s3:GetObjectt"], ["arn:aws:s3:::bucket/*"], sid="Typo")])
    result = lint_stacks(_one_policy_stack("aws_iam_role_policy", "policy", policy), WHERE,
                         accepted={("UNKNOWN_ACTION", "Typo"): ("a reason written next to the code", "module")})
    assert not result.failed
    assert report_lines(result)[0].endswith("1 accepted with a reason (--list-accepted, or make iam-lint LIST=1, shows them)")
    listed = report_lines(result, list_accepted=True)
    assert any(line.startswith("  accepted UNKNOWN_ACTION bad: bad/aws_iam_role_policy statement Typo") for line in listed)
    assert "           because: a reason written next to the code" in listed


# Confused deputy (check 4). Before the cluster and flow-log roles got their conditions, the
# lint reported both roles in every cluster stack (CONFUSED_DEPUTY ... eks/cluster-role,
# vpc/flow-log-role): test_every_policy_passes_the_lint_or_has_a_reason failed on them.
@pytest.mark.parametrize("service", sorted(SOURCE_CONDITIONS_DOCUMENTED))
def test_a_service_role_without_source_conditions_fails_and_with_them_passes(service: str) -> None:
    bare = lint_stacks(_one_policy_stack("aws_iam_role", "assume_role_policy", service_assume_role_policy(service)),
                       WHERE, accepted={"anything": ("", "")})
    assert [f.issue for f in bare.failed] == ["CONFUSED_DEPUTY"]
    assert "aws:SourceAccount and aws:SourceArn" in bare.failed[0].detail
    only_account = service_assume_role_policy(service, source_account="123456789012")
    partial = lint_stacks(_one_policy_stack("aws_iam_role", "assume_role_policy", only_account), WHERE, accepted={})
    assert [f.detail.split(" without ")[1].split(",")[0] for f in partial.failed] == ["aws:SourceArn"]
    arn = "arn:aws:eks:eu-west-1:123456789012:cluster/demo" if service.startswith("eks") else \
        "arn:aws:ec2:eu-west-1:123456789012:vpc-flow-log/*"
    full = service_assume_role_policy(service, source_account="123456789012", source_arn=arn)
    assert not lint_stacks(_one_policy_stack("aws_iam_role", "assume_role_policy", full), WHERE, accepted={}).failed


def test_a_service_neither_table_knows_fails_until_its_page_is_read() -> None:
    unknown = service_assume_role_policy("monitoring.rds.amazonaws.com")
    failed = lint_stacks(_one_policy_stack("aws_iam_role", "assume_role_policy", unknown), WHERE, accepted={}).failed
    assert [f.issue for f in failed] == ["CONFUSED_DEPUTY"] and "SOURCE_CONDITIONS_DOCUMENTED" in failed[0].detail


def test_every_service_exception_says_why_and_every_documented_service_cites_its_page() -> None:
    assert all(page.startswith("https://docs.aws.amazon.com/") for page in SOURCE_CONDITIONS_DOCUMENTED.values())
    assert all(len(reason) > 80 for reason in SOURCE_CONDITIONS_NOT_DOCUMENTED.values())
    assert not set(SOURCE_CONDITIONS_DOCUMENTED) & set(SOURCE_CONDITIONS_NOT_DOCUMENTED)


# Grants nobody uses (check 5): the External Secrets role's standing read of the RDS master
# secret (and of "<environment>/*"), which nothing in flux/ reads, failed this before they went.
def test_a_secret_read_nothing_in_flux_consumes_fails() -> None:
    read = policy_document([allow(["secretsmanager:GetSecretValue"], ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-*"],
                                  sid="MasterSecret")])
    stack = _one_policy_stack("aws_iam_role_policy", "policy", read)
    failed = lint_stacks(stack, WHERE, accepted={}, secrets_consumed=False).failed
    assert [(f.issue, f.sid) for f in failed] == [("SECRET_GRANT_UNCONSUMED", "MasterSecret")]
    assert not lint_stacks(stack, WHERE, accepted={}, secrets_consumed=True).failed


def test_a_secrets_manager_store_in_flux_counts_as_a_consumer(tmp_path) -> None:
    from vault_platform.ops.iam_lint import flux_reads_secrets_manager

    assert not flux_reads_secrets_manager()  # today: the only store is Vault
    (tmp_path / "store.yaml").write_text(
        "apiVersion: external-secrets.io/v1\nkind: ClusterSecretStore\nmetadata: {name: aws}\n"
        "spec:\n  provider:\n    aws: {service: SecretsManager, region: eu-west-1}\n")
    assert flux_reads_secrets_manager(tmp_path)


def test_a_read_only_role_that_writes_or_names_every_resource_fails() -> None:
    """Check 6, on the image reflector's role (its add-on declares it read-only)."""
    from vault_platform.addons.flux_image_automation import IDENTITY

    repository = "arn:aws:ecr:eu-west-1:123456789012:repository/demo/demo-app"
    document = policy_document([allow(["ecr:GetAuthorizationToken"], "*", sid="RegistryLogin"),
                                allow(["ecr:ListImages", "ecr:PutImage"], [repository], sid="Push"),
                                allow(["ecr:BatchGetImage"], "*", sid="Everywhere")])
    stack = {"tooling": {"resource": {"aws_iam_role_policy": {"p": {
        "policy": document, "//": {"metadata": {"path": f"tooling/eks/{IDENTITY.construct_id}/policy"}}}}}}}
    failed = lint_stacks(stack, WHERE, accepted={}).failed
    assert [(f.issue, f.sid) for f in failed if f.issue.startswith("READ_ONLY")] == [
        ("READ_ONLY_ROLE_WRITES", "Push"), ("READ_ONLY_ROLE_UNSCOPED", "Everywhere")]
    (writes,) = [f for f in failed if f.issue == "READ_ONLY_ROLE_WRITES"]
    assert "ecr:PutImage (access level Write)" in writes.detail and "fix: " in writes.detail
    # The same statements on a role no add-on declares read-only: not this check's business.
    other = {"tooling": {"resource": {"aws_iam_role_policy": {"p": {
        "policy": document, "//": {"metadata": {"path": "tooling/eks/gitlab-runner-irsa/policy"}}}}}}}
    assert not [f for f in lint_stacks(other, WHERE, accepted={}).failed if f.issue.startswith("READ_ONLY")]


def _key_grant_stack(**extra_resources: dict) -> dict[str, dict]:
    use = policy_document([allow(["kms:Decrypt", "kms:GenerateDataKey*"], ["${aws_kms_key.k.arn}"], sid="UseKey")])
    return {"s": {"resource": {
        "aws_kms_key": {"k": {"description": "a key"}},
        "aws_iam_role": {"r": {"name": "r", "assume_role_policy": service_assume_role_policy(
            "eks.amazonaws.com", source_account="123456789012", source_arn="arn:aws:eks:eu-west-1:123456789012:cluster/c")}},
        "aws_iam_role_policy": {"p": {"role": "${aws_iam_role.r.name}", "policy": use}},
        **extra_resources,
    }}}


def test_a_key_grant_nothing_uses_fails_and_a_var_flux_reads_consumes_it() -> None:
    stack = _key_grant_stack()
    failed = lint_stacks(stack, WHERE, accepted={}, flux_vars=frozenset()).failed
    assert [(f.issue, f.sid) for f in failed] == [("KEY_GRANT_UNCONSUMED", "UseKey")]
    assert "lets r use aws_kms_key.k" in failed[0].detail
    handed = _key_grant_stack(kubernetes_config_map_v1={"vars": {"data": {"KEY_ID": "${aws_kms_key.k.key_id}"}}})
    assert not lint_stacks(handed, WHERE, accepted={}, flux_vars=frozenset({"KEY_ID"})).failed
    assert lint_stacks(handed, WHERE, accepted={}, flux_vars=frozenset({"OTHER"})).failed  # a var nobody reads


def test_a_key_named_by_a_resource_the_role_is_not_granted_on_is_still_unused() -> None:
    bucket = {"aws_s3_bucket": {"b": {"bucket": "b"}}, "aws_s3_bucket_server_side_encryption_configuration": {
        "e": {"bucket": "${aws_s3_bucket.b.id}", "rule": [{"apply_server_side_encryption_by_default": [
            {"kms_master_key_id": "${aws_kms_key.k.arn}", "sse_algorithm": "aws:kms"}]}]}}}
    assert lint_stacks(_key_grant_stack(**bucket), WHERE, accepted={}, flux_vars=frozenset()).failed
    write = policy_document([allow(["s3:PutObject"], ["${aws_s3_bucket.b.arn}/*"], sid="Write")])
    granted = _key_grant_stack(**bucket)
    granted["s"]["resource"]["aws_iam_role_policy"]["w"] = {"role": "${aws_iam_role.r.name}", "policy": write}
    assert not [f for f in lint_stacks(granted, WHERE, accepted={}, flux_vars=frozenset()).failed
                if f.issue == "KEY_GRANT_UNCONSUMED"]


def test_an_unused_key_grant_added_to_the_default_environment_fails(environments: dict) -> None:
    """A workload role (Vault's snapshot CronJob) given the EFS key, which only the file
    system uses, in its identity policy; and Vault's role named in the EFS key's policy."""
    import copy
    import json

    stacks = copy.deepcopy(environments["default"])
    resources = stacks["tooling"]["resource"]
    efs_key = next(name for name in resources["aws_kms_key"] if name.startswith("efs-key"))
    backup = next(body for name, body in resources["aws_iam_role_policy"].items() if "vault-backup-irsa" in name)
    document = json.loads(backup["policy"])
    document["Statement"].append({"Sid": "ReadEfsKey", "Effect": "Allow", "Action": "kms:Decrypt",
                                  "Resource": f"${{aws_kms_key.{efs_key}.arn}}"})
    backup["policy"] = json.dumps(document)
    vault_role = next(name for name in resources["aws_iam_role"] if "vault-irsa" in name)
    key_policy = json.loads(resources["aws_kms_key"][efs_key]["policy"])
    key_policy["Statement"].append({"Sid": "VaultUsesEfsKey", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:Encrypt"],
                                    "Principal": {"AWS": f"${{aws_iam_role.{vault_role}.arn}}"}, "Resource": "*"})
    resources["aws_kms_key"][efs_key]["policy"] = json.dumps(key_policy)
    failed = lint_stacks(stacks, placement_of(load_environment("default"))).failed
    assert sorted((f.issue, f.sid) for f in failed if f.issue == "KEY_GRANT_UNCONSUMED") == [
                                                         ("KEY_GRANT_UNCONSUMED", "ReadEfsKey"),
                                                          ("KEY_GRANT_UNCONSUMED", "VaultUsesEfsKey")]
