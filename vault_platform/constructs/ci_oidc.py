"""GitLab CI's way into the account: an IAM OIDC provider for the GitLab instance and two
roles bound to one project's ``sub`` claim, so pipelines hold short-lived credentials and
no static AWS key exists anywhere.

GitLab's id_token ``sub`` is ``project_path:<group>/<project>:ref_type:<branch|tag>:ref:<name>``.
IAM can condition a custom OIDC provider only on ``aud`` and ``sub``, so project and
branch are bound through ``sub``:
- plan: any branch of the project (merge requests are reviewed by their plan), read-only;
- deploy: the deploy branch only (protect it in GitLab), with the rights a deploy needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.iam_openid_connect_provider import IamOpenidConnectProvider
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from constructs import Construct

from vault_platform.config.model import CiConfig
from vault_platform.constructs.policy import policy_document

# One hour covers the longest plan/deploy job; STS's maximum for a web identity session.
SESSION_SECONDS = 3600

# Policy-gate findings accepted for resources created here (vault_platform/policy_gate.py).
CHECKOV_SUPPRESSIONS = {
    ("CKV_AWS_274", "aws_iam_role_policy_attachment", "deploy-administrator"):
        "the deploy creates IAM roles, KMS keys, EKS, RDS and VPCs, which no narrower AWS-managed policy "
        "covers; only the deploy branch of one project can assume the role (trust policy on the sub claim)",
}


@dataclass(frozen=True)
class CiOidcProps:
    """name: prefix of the role names (the environment name). partition: for managed policy ARNs."""

    name: str
    ci: CiConfig
    partition: str = "aws"


def gitlab_trust_policy(provider_arn: str, issuer_host: str, audience: str, subject: str) -> str:
    return policy_document([{
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {f"{issuer_host}:aud": audience},
            "StringLike": {f"{issuer_host}:sub": subject},
        },
    }])


class CiOidc(Construct):
    def __init__(self, scope: Construct, id: str, props: CiOidcProps) -> None:
        super().__init__(scope, id)
        ci = props.ci
        issuer_host = ci.gitlab_url.removeprefix("https://")
        self.provider = IamOpenidConnectProvider(self, "provider", url=ci.gitlab_url, client_id_list=[ci.audience])
        project = f"project_path:{ci.project_path}"

        self.plan_role = IamRole(
            self, "plan-role", name=f"{props.name}-ci-plan", max_session_duration=SESSION_SECONDS,
            description=f"GitLab CI plan jobs of {ci.project_path}, any branch: read-only",
            assume_role_policy=gitlab_trust_policy(self.provider.arn, issuer_host, ci.audience,
                                                   f"{project}:ref_type:branch:ref:*"),
        )
        IamRolePolicyAttachment(self, "plan-read-only", role=self.plan_role.name,
                                policy_arn=f"arn:{props.partition}:iam::aws:policy/ReadOnlyAccess")

        self.deploy_role = IamRole(
            self, "deploy-role", name=f"{props.name}-ci-deploy", max_session_duration=SESSION_SECONDS,
            description=f"GitLab CI deploy job of {ci.project_path}, branch {ci.deploy_branch} only",
            assume_role_policy=gitlab_trust_policy(self.provider.arn, issuer_host, ci.audience,
                                                   f"{project}:ref_type:branch:ref:{ci.deploy_branch}"),
        )
        # A deploy creates IAM roles, KMS keys, EKS, RDS, VPCs: no narrower AWS-managed policy
        # covers that. The trust policy (one project, one protected branch) is the boundary.
        IamRolePolicyAttachment(self, "deploy-administrator", role=self.deploy_role.name,
                                policy_arn=f"arn:{props.partition}:iam::aws:policy/AdministratorAccess")
        self.plan_role_arn = self.plan_role.arn
        self.deploy_role_arn = self.deploy_role.arn
