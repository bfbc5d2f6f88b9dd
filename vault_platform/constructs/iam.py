"""IAM roles for service accounts (IRSA): one role per Kubernetes service account.

The trust policy is bound to exactly one ``system:serviceaccount:<namespace>:<name>`` and
the ``sts.amazonaws.com`` audience of one cluster's OIDC provider, so no other pod, in any
namespace or cluster, can assume the role.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from constructs import Construct

from vault_platform.constructs.addresses import moved_from, path_below_stack, stack_of
from vault_platform.constructs.policy import Statement, policy_document
from vault_platform.errors import ConfigError


@dataclass(frozen=True)
class IrsaRoleProps:
    """oidc_provider_arn / oidc_issuer_host: the cluster's IAM OIDC provider and its issuer
    without ``https://``. statements: the role's inline, least-privilege permissions.
    managed_policy_arns: AWS-managed policies, only where AWS maintains the exact list."""

    role_name: str
    oidc_provider_arn: str
    oidc_issuer_host: str
    namespace: str
    service_account: str
    statements: tuple[Statement, ...] = ()
    managed_policy_arns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = [managed_policy_name(arn) for arn in self.managed_policy_arns]
        for arn, name in zip(self.managed_policy_arns, names, strict=True):
            if names.count(name) > 1:
                raise ConfigError(f"IrsaRoleProps({self.role_name}).managed_policy_arns", arn,
                                  f"shares the name '{name}', which keys its attachment, with another policy",
                                  "attach each managed policy once")


def managed_policy_name(policy_arn: str) -> str:
    """A managed policy's name: the part of its ARN after the last '/'."""
    return policy_arn.rsplit("/", 1)[-1]


def irsa_trust_policy(oidc_provider_arn: str, oidc_issuer_host: str, namespace: str, service_account: str) -> str:
    return policy_document([
        {
            "Effect": "Allow",
            "Principal": {"Federated": oidc_provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    f"{oidc_issuer_host}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                    f"{oidc_issuer_host}:aud": "sts.amazonaws.com",
                }
            },
        }
    ])


class IrsaRole(Construct):
    def __init__(self, scope: Construct, id: str, props: IrsaRoleProps) -> None:
        super().__init__(scope, id)
        self.path_below_stack = path_below_stack(scope, id)
        self.stack = stack_of(scope)
        self.namespace = props.namespace
        self.service_account = props.service_account
        self.role = IamRole(
            self,
            "role",
            name=props.role_name,
            description=f"IRSA role of {props.namespace}/{props.service_account}",
            assume_role_policy=irsa_trust_policy(
                props.oidc_provider_arn, props.oidc_issuer_host, props.namespace, props.service_account
            ),
        )
        if props.statements:
            IamRolePolicy(self, "policy", name="least-privilege", role=self.role.id, policy=policy_document(props.statements))
        # Keyed by the policy's name (after the ARN's last '/'); earlier versions keyed it by
        # its position in managed_policy_arns, hence the moves.
        for index, policy_arn in enumerate(props.managed_policy_arns):
            attachment_id = f"managed-{managed_policy_name(policy_arn)}"
            attachment = IamRolePolicyAttachment(self, attachment_id, role=self.role.name, policy_arn=policy_arn)
            moved_from(attachment, f"managed-{index}", new_id=attachment_id, parent_path=self.path_below_stack,
                       stack=self.stack)
        self.arn = self.role.arn
