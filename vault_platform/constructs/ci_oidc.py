"""GitLab CI's way into the account, only where the environment has a [ci] table: the IAM
OIDC provider of the GitLab instance (created by the one environment of the account that says
``oidc_provider = "create"``, looked up by the others) and two roles bound to one project's
``sub`` claim, so pipelines hold short-lived credentials and no static AWS key exists anywhere.

GitLab's id_token ``sub`` is ``project_path:<group>/<project>:ref_type:<branch|tag>:ref:<name>``.
For a custom OIDC provider such as GitLab, IAM's claim condition keys are those of the
"Default" list (AWS IAM User Guide, reference_policies_iam-condition-keys, "Available keys for
AWS OIDC federation": ``aud``, ``sub``, ``amr``, ``email``, ``oaud``; only GitHub, Google,
CircleCI and a few others have provider-specific keys): ``project_id``, ``namespace_id`` or
``ref_protected`` cannot be tested, and
GitLab cannot put them in ``sub`` either (its ``ci_id_token_sub_claim_components`` take
project, ref type, ref and, since 18.7, environment protection and tier). So project and
branch are bound through ``sub``:
- plan: the branches of ``ci.plan_branches``, read-only, plus what Terraform needs of the
  remote state; with remote state only protected branches (default the deploy branch: the
  state holds the VPN's and Vault's CA private keys), else any branch by default, so merge
  requests are reviewed by their plan;
- deploy: the deploy branch only (protect it in GitLab), with the rights a deploy needs,
  minus a few it must never use (``deploy_guardrails``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.data_aws_iam_openid_connect_provider import DataAwsIamOpenidConnectProvider
from cdktf_cdktf_provider_aws.iam_openid_connect_provider import IamOpenidConnectProvider
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from constructs import Construct

from vault_platform.config.model import OIDC_PROVIDER_CREATE, CiConfig, StateConfig
from vault_platform.constructs.policy import Statement, allow, policy_document
from vault_platform.constructs.protection import protected_lifecycle

# One hour covers the longest plan/deploy job; STS's maximum for a web identity session.
SESSION_SECONDS = 3600

# Terraform's S3 backend lists the workspaces (keys under workspace_key_prefix, default
# "env:") on every init and state read, with exactly this prefix, never the state key's
# own directory: a ListBucket limited to "<env>/" would fail `terraform init`.
WORKSPACE_LIST_PREFIX = "env:/"

# IAM lint findings accepted for the policies written here (vault_platform/ops/iam_lint.py).
_RESOURCE_ALIASES = ("kms:ResourceAliases is a documented condition key of the KMS key resource (AWS KMS developer "
                     "guide, conditions-kms-resource-aliases); parliament looks condition keys up among the action's only")
PARLIAMENT_ACCEPTED = {
    ("UNKNOWN_CONDITION_FOR_ACTION", "StateKeyThroughS3"): _RESOURCE_ALIASES,
    ("UNKNOWN_CONDITION_FOR_ACTION", "KeepStateKey"): _RESOURCE_ALIASES,
}

# Policy-gate findings accepted for resources created here (vault_platform/ops/policy_gate.py).
CHECKOV_SUPPRESSIONS = {
    ("CKV_AWS_274", "aws_iam_role_policy_attachment", "deploy-administrator"):
        "the deploy creates IAM roles, KMS keys, EKS, RDS and VPCs, which no narrower AWS-managed policy "
        "covers; only the deploy branch of one project can assume the role (StringEquals on the exact sub "
        "claim), and the inline deny deploy-guardrails keeps it from changing the CI roles or the OIDC "
        "provider, destroying the state bucket or key, leaving the organization or stopping CloudTrail",
}


@dataclass(frozen=True)
class CiOidcProps:
    """name: prefix of the role names and the environment's state key prefix (the
    environment name). state: the environment's remote state, None for local state.
    partition: for managed policy and S3 ARNs."""

    name: str
    ci: CiConfig
    state: StateConfig | None
    partition: str


def branch_subjects(project_path: str, branches: Sequence[str]) -> list[str]:
    return [f"project_path:{project_path}:ref_type:branch:ref:{branch}" for branch in branches]


def gitlab_trust_policy(provider_arn: str, issuer_host: str, audience: str, subjects: Sequence[str]) -> str:
    """StringEquals for exact subjects; StringLike only for the patterns (a '*' in a branch),
    in a statement of its own, since two operators on one key in one statement must both hold."""
    statements = []
    for operator, values in (("StringEquals", [s for s in subjects if "*" not in s]),
                             ("StringLike", [s for s in subjects if "*" in s])):
        if not values:
            continue
        condition: dict[str, dict[str, object]] = {"StringEquals": {f"{issuer_host}:aud": audience}}
        condition.setdefault(operator, {})[f"{issuer_host}:sub"] = values[0] if len(values) == 1 else values
        statements.append({
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": condition,
        })
    return policy_document(statements)


def state_key_scope(state: StateConfig) -> tuple[str, dict[str, dict[str, object]]]:
    """The state key as a statement's Resource and Condition.

    A key ARN is used as is. An alias ARN in Resource governs the alias, never the key behind
    it (Decrypt of data under that key would be refused), and S3 calls KMS with the key ARN
    it stored with each object, so kms:RequestAlias is absent there too. kms:ResourceAliases
    matches the key by the aliases it has, however the call names it: the statement names
    the account's keys in the key's region and keeps the one with this alias. This needs no
    lookup at plan time (an aws_kms_alias data source would need a provider in the state's
    region and the alias to exist before the tooling stack can plan). Who may move the alias
    decides which key this is; the deploy role may not (deploy_guardrails).
    """
    alias = state.kms_key_alias
    if alias is None:
        return state.kms_key_arn, {}
    account_and_region = state.kms_key_arn.removesuffix(f":alias/{alias}")
    return f"{account_and_region}:key/*", {"ForAnyValue:StringEquals": {"kms:ResourceAliases": f"alias/{alias}"}}


def plan_state_statements(state: StateConfig, env_name: str, partition: str) -> list[Statement]:
    """What `terraform plan` needs of the S3 backend (use_lockfile) beyond ReadOnlyAccess:
    read this environment's state objects, write and delete their lock objects, and use the
    state key, through S3 only. The lock (<key>.tflock) is written with the backend's KMS key
    like the state (PutObject: kms:GenerateDataKey) and read back before it is deleted, to
    check its lock ID (GetObject: kms:Decrypt); kms:Encrypt is never called by S3."""
    bucket = f"arn:{partition}:s3:::{state.bucket}"
    objects = f"{bucket}/{env_name}"
    key, key_condition = state_key_scope(state)
    return [
        allow(["s3:ListBucket"], [bucket], sid="ListWorkspaces",
              Condition={"StringEquals": {"s3:prefix": WORKSPACE_LIST_PREFIX}}),
        allow(["s3:GetObject"], [f"{objects}/*.tfstate", f"{objects}/*.tflock"], sid="ReadStateAndLocks"),
        allow(["s3:PutObject", "s3:DeleteObject"], [f"{objects}/*.tflock"], sid="HoldStateLocks"),
        allow(["kms:Decrypt", "kms:GenerateDataKey"], [key], sid="StateKeyThroughS3",
              Condition={"StringEquals": {"kms:ViaService": f"s3.{state.region}.amazonaws.com"}, **key_condition}),
    ]


def deploy_guardrails(role_arns: Sequence[str], provider_arn: str, state: StateConfig | None, partition: str) -> list[Statement]:
    """Denies that win over AdministratorAccess for the deploy role's own calls.

    An inline deny rather than a permissions boundary: both bind the role's own calls, but a
    boundary is a managed policy that must itself be guarded and caps every permission (it
    would need an Allow * beside the same denies). Its own policy is among what it may not
    change, so a pipeline cannot lift it. It does not confine an administrator completely: a
    new role with its own trust can still be created and assumed; only an organization SCP
    stops that. It stops the obvious ways to widen CI's access and the irreversible mistakes.
    Changes to the CI roles, their policies or the OIDC provider are therefore applied by an
    administrator, not the pipeline. Tagging stays allowed: default tags reach these too.
    """
    statements: list[Statement] = [
        _deny("KeepCiRoles", ["iam:AttachRolePolicy", "iam:DeleteRole", "iam:DeleteRolePermissionsBoundary",
                              "iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary",
                              "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:UpdateRole",
                              "iam:UpdateRoleDescription"], list(role_arns)),
        _deny("KeepCiIdentityProvider", ["iam:AddClientIDToOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider",
                                         "iam:RemoveClientIDFromOpenIDConnectProvider",
                                         "iam:UpdateOpenIDConnectProviderThumbprint"], [provider_arn]),
    ]
    if state is not None:
        bucket = f"arn:{partition}:s3:::{state.bucket}"
        # Versioning is what rolls a bad apply's state back: keep every version, and the bucket.
        statements.append(_deny("KeepStateBucket", ["s3:DeleteBucket", "s3:DeleteBucketPolicy", "s3:DeleteObjectVersion",
                                                    "s3:PutBucketPolicy", "s3:PutBucketVersioning",
                                                    "s3:PutLifecycleConfiguration"], [bucket, f"{bucket}/*"]))
        key, key_condition = state_key_scope(state)
        # Without the key every state object is unreadable.
        statements.append(_deny("KeepStateKey", ["kms:DisableKey", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion"], [key],
                                **({"Condition": key_condition} if key_condition else {})))
        if key_condition:
            statements.append(_deny("KeepStateKeyAlias", ["kms:DeleteAlias", "kms:UpdateAlias"], [state.kms_key_arn]))
    statements += [
        _deny("StayInOrganization", ["organizations:LeaveOrganization"], "*"),
        # Stopping, deleting or narrowing a trail would hide what the role does.
        _deny("KeepCloudTrail", ["cloudtrail:DeleteTrail", "cloudtrail:PutEventSelectors", "cloudtrail:StopLogging",
                                 "cloudtrail:UpdateTrail"], "*"),
    ]
    return statements


def _deny(sid: str, actions: Sequence[str], resources: Sequence[str] | str, **extra: object) -> dict[str, object]:
    return {**allow(actions, resources, sid=sid, **extra), "Effect": "Deny"}


class CiOidc(Construct):
    def __init__(self, scope: Construct, id: str, props: CiOidcProps) -> None:
        super().__init__(scope, id)
        ci = props.ci
        issuer_host = ci.issuer_host
        # One provider per account and issuer: the environment that owns it creates it (and
        # keeps it from a casual destroy: other environments' roles trust it); the others
        # read it, so a second environment neither fails on EntityAlreadyExists nor takes it
        # away when it is destroyed.
        if ci.oidc_provider == OIDC_PROVIDER_CREATE:
            provider: IamOpenidConnectProvider | DataAwsIamOpenidConnectProvider = IamOpenidConnectProvider(
                self, "provider", url=ci.gitlab_url, client_id_list=[ci.audience], lifecycle=protected_lifecycle(self))
        else:
            provider = DataAwsIamOpenidConnectProvider(self, "existing-provider", url=ci.gitlab_url)
        self.provider = provider
        # IAM cannot test these claims (module docstring); recorded so a reviewer can check that
        # the trusted path still names this project.
        identity_tags = {"gitlab-project": ci.project_path, "gitlab-project-id": str(ci.project_id),
                         "gitlab-namespace-id": str(ci.namespace_id)}
        plan_branches = ci.effective_plan_branches(props.state is not None)
        branches = "any branch" if plan_branches == ("*",) else "branches " + ", ".join(plan_branches)
        self.plan_role = IamRole(
            self, "plan-role", name=f"{props.name}-ci-plan", max_session_duration=SESSION_SECONDS,
            description=f"GitLab CI plan jobs of {ci.project_path}, {branches}: read-only", tags=identity_tags,
            assume_role_policy=gitlab_trust_policy(self.provider.arn, issuer_host, ci.audience,
                                                   branch_subjects(ci.project_path, plan_branches)),
        )
        IamRolePolicyAttachment(self, "plan-read-only", role=self.plan_role.name,
                                policy_arn=f"arn:{props.partition}:iam::aws:policy/ReadOnlyAccess")
        # ReadOnlyAccess can fetch the state objects but not decrypt them, nor take the lock
        # every plan takes: without this, `terraform plan` in CI fails on an S3 backend.
        if props.state is not None:
            IamRolePolicy(self, "plan-state-access", name="terraform-state", role=self.plan_role.id,
                          policy=policy_document(plan_state_statements(props.state, props.name, props.partition)))

        self.deploy_role = IamRole(
            self, "deploy-role", name=f"{props.name}-ci-deploy", max_session_duration=SESSION_SECONDS,
            description=f"GitLab CI deploy job of {ci.project_path}, branch {ci.deploy_branch} only", tags=identity_tags,
            assume_role_policy=gitlab_trust_policy(self.provider.arn, issuer_host, ci.audience,
                                                   branch_subjects(ci.project_path, [ci.deploy_branch])),
        )
        # A deploy creates IAM roles, KMS keys, EKS, RDS, VPCs: no narrower AWS-managed policy
        # covers that. The trust policy (one project, one protected branch) decides who holds
        # it; the guardrails below, what it must never do even so.
        IamRolePolicyAttachment(self, "deploy-administrator", role=self.deploy_role.name,
                                policy_arn=f"arn:{props.partition}:iam::aws:policy/AdministratorAccess")
        IamRolePolicy(self, "deploy-guardrails", name="guardrails", role=self.deploy_role.id,
                      policy=policy_document(deploy_guardrails([self.plan_role.arn, self.deploy_role.arn],
                                                               self.provider.arn, props.state, props.partition)))
        self.plan_role_arn = self.plan_role.arn
        self.deploy_role_arn = self.deploy_role.arn
