"""The platform's network flows: the one list of every connection the platform makes, and
why. The checker (check.py) proves each one open in the synthesized stacks and reports any
opening none of them needs; `make flows` prints them as the reviewer's matrix.

Places (the names flows use; places.py finds them in the stacks):
  operators            people on the Client VPN (source-NATed into the association subnets)
  deployer             the machine running `cdktf deploy` (deploy.access: the VPN, or the
                       clusters' public endpoints from its ranges)
  <cluster>.api        the cluster's API endpoint (its network interfaces in the cluster subnets)
  <cluster>.pods       the cluster's nodes and pods (VPC CNI: node subnets and groups)
  <cluster>.vpc-endpoints  the interface VPC endpoints (STS, ECR, KMS, Logs) of its VPC
  tooling.resolver     the tooling VPC's Amazon-provided DNS server
  vault.nlb, istio-gateway.nlb   the internal NLBs flux/ asks the load balancer controller for
  postgres, efs        the RDS instance and the EFS mount targets
where <cluster> is ``tooling`` or ``application`` (the roles, whatever the clusters' names).

Admission webhooks are the add-ons' own declarations (``webhooks`` in vault_platform/addons/,
each the container port of the pinned chart's default that the API server calls): every
cluster gets a flow to each webhook of the add-ons that run on its kind.
"""

from __future__ import annotations

from dataclasses import dataclass

from vault_platform.addons import addons_for
from vault_platform.addons.vault import VAULT_PORT as VAULT_API
from vault_platform.cluster_roles import APPLICATION, TOOLING
from vault_platform.constructs.rds import POSTGRES_PORT as POSTGRES
from vault_platform.stacks.application import KUBERNETES_API_PORT as KUBERNETES_API
from vault_platform.stacks.vpn import DNS_PORT as DNS

TCP, UDP = "tcp", "udp"

KUBELET = 10250
VAULT_RAFT = 8201  # cluster_address of the raft HCL in flux/infrastructure/vault/helmrelease.yaml
NFS = 2049
HTTPS = 443  # the interface endpoints' rule (constructs/vpc.py)
# Istio gateway chart 1.24.2, values.yaml service.ports: status-port, http2, https; the
# targets listen on the same ports.
ISTIO_GATEWAY_PORTS = (15021, 80, 443)

EFS_FEATURE = "tooling.efs_enabled"


@dataclass(frozen=True)
class Flow:
    """source -> destination on port/protocol, and why. deploy_of: the stacks whose
    deploy needs this flow (their providers call through it). feature: a dotted config
    switch; where it is off the flow does not exist."""

    name: str
    source: str
    destination: str
    port: int
    why: str
    protocol: str = TCP
    deploy_of: tuple[str, ...] = ()
    feature: str | None = None


@dataclass(frozen=True)
class LoadBalancedService:
    """An internal NLB that a Service in flux/ makes the load balancer controller create.
    manifest: the file, relative to the repository; service_path: keys from the document's
    top to the Service (empty for a Service itself, the values block for a chart's).
    default_ports: (port, target port) when the chart's defaults decide."""

    place: str
    cluster: str
    manifest: str
    service_path: tuple[str, ...] = ()
    default_ports: tuple[tuple[int, int], ...] = ()


LOAD_BALANCED_SERVICES = (
    LoadBalancedService("vault.nlb", "tooling", "flux/infrastructure/vault/service-nlb.yaml"),
    LoadBalancedService("istio-gateway.nlb", "application", "flux/infrastructure/istio/helmrelease-gateway.yaml",
                        service_path=("spec", "values", "service"),
                        default_ports=tuple((port, port) for port in ISTIO_GATEWAY_PORTS)),
)


def _webhooks(cluster: str) -> tuple[Flow, ...]:
    """One flow per admission webhook of the add-ons that run on ``cluster`` (a kind: the
    flows name clusters by kind). Add-ons behind a feature switch declare none today; one
    that did would need the switch on its flow."""
    return tuple(Flow(f"{cluster}-api-to-{hook.name}-webhook", f"{cluster}.api", f"{cluster}.pods", hook.port,
                      f"the {cluster} API server calls the {hook.name} admission webhook")
                 for addon in addons_for(cluster) for hook in addon.webhooks)


FLOWS: tuple[Flow, ...] = (
    # People and the deploying machine.
    Flow("operators-to-tooling-api", "operators", "tooling.api", KUBERNETES_API, "operators run kubectl/flux against the tooling cluster"),
    Flow("operators-to-application-api", "operators", "application.api", KUBERNETES_API,
         "operators run kubectl/flux against the application cluster, through the peering"),
    Flow("operators-to-vault", "operators", "vault.nlb", VAULT_API, "operators use Vault's API and UI (https://vault.<zone>:8200)"),
    Flow("operators-to-dns", "operators", "tooling.resolver", DNS, "VPN clients resolve the private zone", protocol=UDP),
    Flow("operators-to-dns-tcp", "operators", "tooling.resolver", DNS, "large private-zone answers", protocol=TCP),
    Flow("deployer-to-tooling-api", "deployer", "tooling.api", KUBERNETES_API,
         "the tooling-platform stack's kubernetes and helm providers", deploy_of=("tooling-platform",)),
    Flow("deployer-to-application-api", "deployer", "application.api", KUBERNETES_API,
         "the application-platform stack's kubernetes and helm providers", deploy_of=("application-platform",)),
    # Secrets: Vault through its NLB, and what Vault itself calls.
    Flow("application-workloads-to-vault", "application.pods", "vault.nlb", VAULT_API,
         "Vault Agent sidecars (injector) and apps in the application cluster read secrets"),
    Flow("application-external-secrets-to-vault", "application.pods", "vault.nlb", VAULT_API,
         "External Secrets in the application cluster (ClusterSecretStore at VAULT_ADDR)"),
    Flow("tooling-external-secrets-to-vault", "tooling.pods", "vault.nlb", VAULT_API,
         "External Secrets in the tooling cluster (ClusterSecretStore at VAULT_ADDR)"),
    Flow("vault-nlb-to-vault", "vault.nlb", "tooling.pods", VAULT_API, "the NLB forwards to the Vault pods (IP targets) and health-checks them"),
    Flow("vault-raft", "tooling.pods", "tooling.pods", VAULT_RAFT, "Vault raft peers replicate and forward to the leader"),
    Flow("vault-tokenreview-tooling", "tooling.pods", "tooling.api", KUBERNETES_API,
         "Vault's Kubernetes auth reviews tooling service-account tokens (TokenReview)"),
    Flow("vault-tokenreview-application", "tooling.pods", "application.api", KUBERNETES_API,
         "Vault's Kubernetes auth reviews application service-account tokens (TokenReview), through the peering"),
    Flow("vault-to-postgres", "tooling.pods", "postgres", POSTGRES, "Vault's database engine manages the demo app's credentials"),
    Flow("application-workloads-to-postgres", "application.pods", "postgres", POSTGRES, "the demo app uses its database"),
    # The ingress gateway's NLB and its targets.
    Flow("application-workloads-to-istio-gateway", "application.pods", "istio-gateway.nlb", 443,
         "clients in the application VPC reach the mesh's ingress gateway (HTTPS)"),
    Flow("application-workloads-to-istio-gateway-http", "application.pods", "istio-gateway.nlb", 80,
         "clients in the application VPC reach the mesh's ingress gateway (HTTP)"),
    *(Flow(f"istio-gateway-nlb-to-gateway-{port}", "istio-gateway.nlb", "application.pods", port,
           "the NLB forwards to (and health-checks) the ingress gateway pods") for port in ISTIO_GATEWAY_PORTS),
    # Storage and AWS APIs.
    Flow("tooling-to-efs", "tooling.pods", "efs", NFS, "the EFS CSI driver mounts shared volumes (TLS over NFS)", feature=EFS_FEATURE),
    Flow("tooling-to-vpc-endpoints", "tooling.pods", "tooling.vpc-endpoints", HTTPS, "STS (IRSA), ECR, KMS (auto-unseal), Logs"),
    Flow("application-to-vpc-endpoints", "application.pods", "application.vpc-endpoints", HTTPS, "STS (IRSA), ECR, KMS, Logs"),
    # Each cluster's own traffic between control plane and nodes.
    *(flow for cluster in ("tooling", "application") for flow in (
        Flow(f"{cluster}-nodes-to-api", f"{cluster}.pods", f"{cluster}.api", KUBERNETES_API, "kubelets and controllers call the API"),
        Flow(f"{cluster}-api-to-kubelet", f"{cluster}.api", f"{cluster}.pods", KUBELET, "logs, exec, port-forward, metrics"),
    )),
    *_webhooks(TOOLING),
    *_webhooks(APPLICATION),
)

# Openings no flow needs that stay, each with its reason: (rule id suffix, reason). The
# suffix matches the end of a rule id as the checker prints it.
ACCEPTED_OPENINGS: tuple[tuple[str, str], ...] = (
    ("istio-gateway.nlb:frontend:15021",
     "the Istio gateway chart's Service lists its status port, so the NLB listens on it inside the "
     "application VPC; it answers health only"),
)
