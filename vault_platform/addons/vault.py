"""Vault: HA on raft in the tooling cluster, auto-unsealed with the tooling stack's KMS key
(flux/infrastructure/vault)."""

from __future__ import annotations

from vault_platform.addons import TOOLING, Addon, FluxInstalled, IrsaIdentity, PermissionContext, RoleOutput
from vault_platform.constructs.policy import allow

VAULT_PORT = 8200


def _permissions(context: PermissionContext):
    return (allow(["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"], [context.vault_unseal_key_arn], sid="AutoUnseal"),)


ADDON = Addon(
    name="vault",
    install=FluxInstalled("flux/infrastructure/vault"),
    cluster_roles=(TOOLING,),
    irsa=IrsaIdentity("vault", "vault", role_suffix="vault"),
    permissions=_permissions,
    role_arn_var="VAULT_ROLE_ARN",
    role_arn_description="IRSA role of Vault's server pods (vault/vault), allowed to use the unseal key.",
    role_output=RoleOutput("vault_role_arn"),
)
