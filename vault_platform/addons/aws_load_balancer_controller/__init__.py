"""AWS load balancer controller: NLBs and ALBs for Services and Ingresses (Vault's NLB, the
Istio gateway's). Installed by the platform stack before Flux: its webhook intercepts every
new Service, so Flux's own Services come after it (flux.py depends on it)."""

from __future__ import annotations

from types import MappingProxyType

from vault_platform.addons import BOTH, Addon, ChartContext, IrsaIdentity, PermissionContext, RoleOutput, Webhook
from vault_platform.addons.aws_load_balancer_controller.policy import load_balancer_controller_statements
from vault_platform.constructs.helm_chart import HelmAddonProps

EKS_CHARTS = "https://aws.github.io/eks-charts"
IDENTITY = IrsaIdentity("kube-system", "aws-load-balancer-controller", role_suffix="aws-load-balancer-controller")


def _values(cluster: ChartContext) -> dict[str, object]:
    return {
        "clusterName": cluster.cluster_name,
        "region": cluster.region,
        "vpcId": cluster.vpc_id,
        "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": cluster.role_arns[ADDON.name]}},
    }


def _permissions(context: PermissionContext):
    return load_balancer_controller_statements(context.cluster_name, context.partition)


ADDON = Addon(
    name="aws-load-balancer-controller",
    # Chart 1.13.0 = controller v2.13.0, the version its IAM policy (policy.py) was written for.
    install=HelmAddonProps(
        name="aws-load-balancer-controller",
        chart="aws-load-balancer-controller",
        repository=EKS_CHARTS,
        version="1.13.0",
        namespace=IDENTITY.namespace,
        description="AWS load balancer controller: NLBs and ALBs for Services and Ingresses (Vault's NLB)",
        values=MappingProxyType({
            "replicaCount": 2,
            "serviceAccount": {"create": True, "name": IDENTITY.service_account},
        }),
    ),
    cluster_roles=BOTH,
    irsa=IDENTITY,
    permissions=_permissions,
    role_output=RoleOutput("load_balancer_controller_role_arn"),
    # chart 1.13.0 webhookBindPort
    webhooks=(Webhook("aws-load-balancer-controller", 9443),),
    chart_values=_values,
)
