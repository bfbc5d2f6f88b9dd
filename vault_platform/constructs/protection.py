"""Destroy protection of stateful resources, decided in one place.

Every stateful resource (KMS keys, EFS, ECR repositories, the database, ...) takes its
lifecycle from ``protected_lifecycle``: ``prevent_destroy`` is on unless the app was built
with the context value ``allowDestroy`` set to true, which only the explicit, documented
destroy path does (``python main.py --allow-destroy``). A refactor or a typo therefore
cannot plan the deletion of Vault's keys or data; deleting them takes a deliberate act.
"""

from __future__ import annotations

from cdktf import TerraformResourceLifecycle
from constructs import Construct

ALLOW_DESTROY_CONTEXT = "allowDestroy"


def destroy_allowed(scope: Construct) -> bool:
    return scope.node.try_get_context(ALLOW_DESTROY_CONTEXT) is True


def protected_lifecycle(scope: Construct, *, ignore_changes: list[str] | None = None) -> TerraformResourceLifecycle:
    return TerraformResourceLifecycle(prevent_destroy=not destroy_allowed(scope), ignore_changes=ignore_changes)


# Resource types whose loss loses data or trust: every instance in any stack must take its
# lifecycle from protected_lifecycle (tests/test_safety.py fails on one that does not). A
# self-signed certificate is a CA here, and replacing it invalidates everything it signed.
STATEFUL_RESOURCE_TYPES = (
    "aws_kms_key",
    "aws_efs_file_system",
    "aws_ecr_repository",
    "aws_db_instance",
    "aws_s3_bucket",
    "aws_dynamodb_table",
    "tls_self_signed_cert",
)
