"""Vault Agent injector: sidecars that log in to Vault in the application cluster
(flux/infrastructure/vault-injector). No AWS access."""

from vault_platform.addons import APPLICATION, Addon, FluxInstalled, Webhook

ADDON = Addon(
    name="vault-injector",
    install=FluxInstalled("flux/infrastructure/vault-injector"),
    cluster_roles=(APPLICATION,),
    webhooks=(Webhook("vault-injector", 8080),),  # vault chart 0.30.0 injector.port
)
