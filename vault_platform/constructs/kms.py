"""Customer-managed KMS keys: rotation on, explicit key policy, protected from destroy."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey as KmsKeyResource
from constructs import Construct

from vault_platform.constructs.policy import Statement, policy_document
from vault_platform.constructs.protection import protected_lifecycle

# The longest waiting period AWS allows: a scheduled deletion can be cancelled for 30 days.
MAX_DELETION_WINDOW_DAYS = 30

# IAM lint findings accepted for every key policy (vault_platform/ops/iam_lint.py).
PARLIAMENT_ACCEPTED = {
    ("RESOURCE_STAR", "AccountAdministersKeyThroughIam"):
        "in a key policy Resource '*' is the key itself; kms:* for the account root is AWS's default key policy, "
        "which hands the key's use to IAM policies (each role names the key it may use)",
}


@dataclass(frozen=True)
class KmsKeyProps:
    """alias: the name after ``alias/``. account_id: token or literal of the owning account.
    extra_statements: service grants beyond the account-root statement every key has."""

    alias: str
    description: str
    account_id: str
    partition: str
    extra_statements: tuple[Statement, ...] = ()


class KmsKey(Construct):
    """A symmetric key with yearly rotation, a key policy, an alias, and ``prevent_destroy``.

    The policy's first statement delegates to the account's IAM policies (the AWS default
    key policy), so access is granted per role, least-privilege, on the role's side; the
    extra statements cover AWS services that need a grant in the key policy itself.
    """

    def __init__(self, scope: Construct, id: str, props: KmsKeyProps) -> None:
        super().__init__(scope, id)
        root = {
            "Sid": "AccountAdministersKeyThroughIam",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{props.partition}:iam::{props.account_id}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
        self.key = KmsKeyResource(
            self,
            "key",
            description=props.description,
            enable_key_rotation=True,
            deletion_window_in_days=MAX_DELETION_WINDOW_DAYS,
            policy=policy_document([root, *props.extra_statements]),
            lifecycle=protected_lifecycle(self),
        )
        self.key_id = self.key.key_id
        self.alias = KmsAlias(self, "alias", name=f"alias/{props.alias}", target_key_id=self.key_id)
        self.arn = self.key.arn
        self.alias_arn = self.alias.arn
