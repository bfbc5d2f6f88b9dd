"""External Secrets Operator: syncs secrets from Vault into Kubernetes Secrets through the
ClusterSecretStore "vault" (Kubernetes auth: no AWS credential). It has no IRSA role: nothing
in flux/ reads AWS Secrets Manager or any other AWS API through it (IAM lint fails a Secrets
Manager grant no manifest consumes); its last grant, a standing read of the RDS master
secret, went in issue 24 and the empty role after it. The RDS master secret is read once by
the operator, not by ESO (README "Vault's database engine and the demo app")."""

from __future__ import annotations

from vault_platform.addons import BOTH, Addon, FluxInstalled, Webhook

ADDON = Addon(
    name="external-secrets",
    install=FluxInstalled("flux/infrastructure/external-secrets"),
    cluster_roles=BOTH,
    webhooks=(Webhook("external-secrets", 10250),),  # chart 0.17.0 webhook.port
)
