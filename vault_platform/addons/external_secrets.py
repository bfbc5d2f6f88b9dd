"""External Secrets Operator: syncs secrets from Vault (ClusterSecretStore) and, in the
tooling cluster, the RDS-managed master secret Vault's database engine starts from
(flux/infrastructure/external-secrets)."""

from __future__ import annotations

from vault_platform.addons import BOTH, Addon, FluxInstalled, IrsaIdentity, PermissionContext, RoleOutput, Webhook
from vault_platform.constructs.policy import allow

READ_SECRET = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
# RDS names the master secret it manages for a DB instance "rds!db-<id>" and tags it with
# aws:rds:primaryDBInstanceArn (the instance's ARN) and aws:secretsmanager:owningService =
# "rds" (Amazon RDS User Guide, "Password management with Amazon RDS and AWS Secrets
# Manager"). Tag keys starting with "aws:" are reserved for AWS: no one can put that tag on
# another secret (AWS General Reference, "Tagging AWS resources", tag naming limits). So the
# condition below selects exactly the master secrets of the named instances, by a key
# Secrets Manager evaluates for GetSecretValue/DescribeSecret (Service Authorization
# Reference, AWS Secrets Manager: secretsmanager:ResourceTag/${TagKey}), without the
# instance's secret ARN, which only the application stack knows.
RDS_MASTER_SECRET_NAMES = "rds!db-*"
PRIMARY_INSTANCE_TAG = "aws:rds:primaryDBInstanceArn"


def _permissions(context: PermissionContext):
    prefix = f"arn:{context.partition}:secretsmanager:{context.region}:{context.account_id}:secret:"
    # ESO reads secrets of this environment only: names under "<environment>/".
    statements = [allow(READ_SECRET, [f"{prefix}{context.environment}/*"])]
    if context.database_instance_arns:
        statements.append(allow(READ_SECRET, [prefix + RDS_MASTER_SECRET_NAMES], sid="RdsManagedMasterSecrets",
                                Condition={"StringEquals": {f"secretsmanager:ResourceTag/{PRIMARY_INSTANCE_TAG}":
                                                            list(context.database_instance_arns)}}))
    return tuple(statements)


ADDON = Addon(
    name="external-secrets",
    install=FluxInstalled("flux/infrastructure/external-secrets"),
    cluster_roles=BOTH,
    irsa=IrsaIdentity("external-secrets", "external-secrets", role_suffix="external-secrets"),
    permissions=_permissions,
    role_arn_var="EXTERNAL_SECRETS_ROLE_ARN",
    role_arn_description="IRSA role of External Secrets Operator (external-secrets/external-secrets).",
    role_output=RoleOutput("external_secrets_role_arn"),
    webhooks=(Webhook("external-secrets", 10250),),  # chart 0.17.0 webhook.port
)
