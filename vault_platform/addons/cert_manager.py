"""cert-manager: Vault's listener certificate from the tooling platform stack's CA
(flux/infrastructure/cert-manager). No AWS access."""

from vault_platform.addons import TOOLING, Addon, FluxInstalled, Webhook

ADDON = Addon(
    name="cert-manager",
    install=FluxInstalled("flux/infrastructure/cert-manager"),
    cluster_roles=(TOOLING,),
    webhooks=(Webhook("cert-manager", 10250),),  # v1.17.1 webhook.securePort
)
