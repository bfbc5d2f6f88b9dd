"""External Secrets Operator: syncs secrets from Vault into Kubernetes Secrets through the
ClusterSecretStore "vault" (Kubernetes auth: no AWS credential). Its IRSA role holds no
permissions: nothing in flux/ reads AWS Secrets Manager (IAM lint fails a Secrets Manager
grant no manifest consumes). The RDS master secret is read once by the operator, not by ESO
(README "Vault's database engine and the demo app")."""

from __future__ import annotations

from vault_platform.addons import BOTH, Addon, FluxInstalled, IrsaIdentity, RoleOutput, Webhook

ADDON = Addon(
    name="external-secrets",
    install=FluxInstalled("flux/infrastructure/external-secrets"),
    cluster_roles=BOTH,
    irsa=IrsaIdentity("external-secrets", "external-secrets", role_suffix="external-secrets"),
    role_arn_var="EXTERNAL_SECRETS_ROLE_ARN",
    role_arn_description="IRSA role of External Secrets Operator (external-secrets/external-secrets).",
    role_output=RoleOutput("external_secrets_role_arn"),
    webhooks=(Webhook("external-secrets", 10250),),  # chart 0.17.0 webhook.port
)
