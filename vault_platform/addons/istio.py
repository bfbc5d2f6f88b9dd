"""Istio (base, istiod, ingress gateway): the application cluster's mesh
(flux/infrastructure/istio). No AWS access; the gateway's NLB is the load balancer
controller's (flows/declared.py LOAD_BALANCED_SERVICES)."""

from vault_platform.addons import APPLICATION, Addon, FluxInstalled, Webhook

ADDON = Addon(
    name="istio",
    install=FluxInstalled("flux/infrastructure/istio"),
    cluster_roles=(APPLICATION,),
    webhooks=(Webhook("istiod", 15017),),  # istiod 1.24.2 sidecar-injector/validation targetPort
)
