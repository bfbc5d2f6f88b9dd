"""external-dns: writes the records of annotated Services (Vault's NLB) into the private zone
both VPCs resolve (flux/infrastructure/external-dns)."""

from __future__ import annotations

from vault_platform.addons import BOTH, Addon, FluxInstalled, IrsaIdentity, PermissionContext, RoleOutput
from vault_platform.constructs.policy import allow


def _permissions(context: PermissionContext):
    return (
        allow(["route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets", "route53:ListTagsForResource"],
              [context.zone_arn]),
        allow(["route53:ListHostedZones"], "*"),  # listing cannot be scoped to a zone
    )


ADDON = Addon(
    name="external-dns",
    install=FluxInstalled("flux/infrastructure/external-dns"),
    cluster_roles=BOTH,
    irsa=IrsaIdentity("kube-system", "external-dns", role_suffix="external-dns"),
    permissions=_permissions,
    role_arn_var="EXTERNAL_DNS_ROLE_ARN",
    role_arn_description="IRSA role of external-dns (kube-system/external-dns).",
    role_output=RoleOutput("external_dns_role_arn"),
)
