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
  git-server           the Git repository of [gitops] url, outside the VPCs: reached through
                       the source subnets' NAT gateway (the tooling VPC's default route)
where <cluster> is a cluster's key (app.ClusterStacks): ``tooling``, or an application
cluster's short name (the default environment's is ``application``). Flows that exist once
per application cluster are templates over that key (``declared_flows``).

Admission webhooks are the add-ons' own declarations (``webhooks`` in vault_platform/addons/,
each the container port of the pinned chart's default that the API server calls): every
cluster gets a flow to each webhook of the add-ons that run on its kind.
"""

from __future__ import annotations

from dataclasses import dataclass

from vault_platform.addons import addons_for
from vault_platform.addons.vault import VAULT_PORT as VAULT_API
from vault_platform.app import ClusterStacks
from vault_platform.cluster_roles import APPLICATION, TOOLING
from vault_platform.constructs.rds import POSTGRES_PORT as POSTGRES
from vault_platform.stacks.application import KUBERNETES_API_PORT as KUBERNETES_API
from vault_platform.stacks.vpn import DNS_PORT as DNS

TCP, UDP = "tcp", "udp"

KUBELET = 10250
VAULT_RAFT = 8201  # cluster_address of the raft HCL in flux/infrastructure/vault/helmrelease.yaml
NFS = 2049
HTTPS = 443  # the interface endpoints' rule (constructs/vpc.py)
SSH = 22
# Istio gateway chart 1.24.2, values.yaml service.ports: status-port, http2, https; the
# targets listen on the same ports.
ISTIO_GATEWAY_PORTS = (15021, 80, 443)

EFS_FEATURE = "tooling.efs_enabled"


@dataclass(frozen=True)
class Flow:
    """source -> destination on port/protocol, and why. deploy_of: the ids of the stacks
    whose deploy needs this flow (their providers call through it). feature: a dotted config
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

    place: str  # for an application role, per_cluster(key, place, ".") in each application cluster
    role: str  # the role of the cluster it lives in (app.TOOLING or APPLICATION)
    manifest: str
    service_path: tuple[str, ...] = ()
    default_ports: tuple[tuple[int, int], ...] = ()


def per_cluster(key: str, name: str, separator: str = "-") -> str:
    """The name of something every application cluster has once, whose name today carries no
    cluster key (the ingress gateway's NLB place, "istio-gateway.nlb", and its flows). The
    cluster keyed "application" (the default environment's) keeps the bare name, so that
    environment's matrix, and any matrix saved from it, stays as it was; every other cluster's
    is prefixed with its key ("<key>.istio-gateway.nlb"), so two clusters' never collide."""
    return name if key == APPLICATION else f"{key}{separator}{name}"


LOAD_BALANCED_SERVICES = (
    LoadBalancedService("vault.nlb", TOOLING, "flux/infrastructure/vault/service-nlb.yaml"),
    LoadBalancedService("istio-gateway.nlb", APPLICATION, "flux/infrastructure/istio/helmrelease-gateway.yaml",
                        service_path=("spec", "values", "service"),
                        default_ports=tuple((port, port) for port in ISTIO_GATEWAY_PORTS)),
)


def _webhooks(key: str, kind: str) -> tuple[Flow, ...]:
    """One flow per admission webhook of the add-ons that run on a cluster of ``kind``
    (tooling or application), for the cluster keyed ``key``. Add-ons behind a feature switch
    declare none today; one that did would need the switch on its flow."""
    return tuple(Flow(f"{key}-api-to-{hook.name}-webhook", f"{key}.api", f"{key}.pods", hook.port,
                      f"the {key} API server calls the {hook.name} admission webhook")
                 for addon in addons_for(kind) for hook in addon.webhooks)


def git_port(url: str) -> int:
    """The port of the platform's Git repository URL ([gitops] url: ssh:// or https://)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.port or (SSH if parts.scheme == "ssh" else HTTPS)


def declared_flows(clusters: tuple[ClusterStacks, ...], database: str | None = None,
                   git: int = SSH) -> tuple[Flow, ...]:
    """Every flow of an environment whose clusters are ``clusters`` (app.cluster_stacks:
    tooling first). Flows that exist once per application cluster are written once, as
    templates over its key k, so N clusters give N copies and nothing joins two application
    clusters (hub and spoke: each reaches only the tooling VPC, through its own peering).
    database: the key of the application cluster whose stack holds the demo database.
    git: the port of the Git server ([gitops] url, ``git_port``)."""
    tooling = next(c for c in clusters if c.role == TOOLING)
    apps = tuple(c for c in clusters if c.role == APPLICATION)
    return (
        # People and the deploying machine.
        Flow("operators-to-tooling-api", "operators", "tooling.api", KUBERNETES_API,
             "operators run kubectl/flux against the tooling cluster"),
        *(Flow(f"operators-to-{k}-api", "operators", f"{k}.api", KUBERNETES_API,
               f"operators run kubectl/flux against the {k} cluster, through the peering") for k in _keys(apps)),
        Flow("operators-to-vault", "operators", "vault.nlb", VAULT_API, "operators use Vault's API and UI (https://vault.<zone>:8200)"),
        Flow("operators-to-dns", "operators", "tooling.resolver", DNS, "VPN clients resolve the private zone", protocol=UDP),
        Flow("operators-to-dns-tcp", "operators", "tooling.resolver", DNS, "large private-zone answers", protocol=TCP),
        *(Flow(f"deployer-to-{c.key}-api", "deployer", f"{c.key}.api", KUBERNETES_API,
               f"the {c.key}-platform stack's kubernetes and helm providers", deploy_of=(c.platform,))
          for c in (tooling, *apps)),
        # Secrets: Vault through its NLB, and what Vault itself calls.
        *(Flow(f"{k}-workloads-to-vault", f"{k}.pods", "vault.nlb", VAULT_API,
               f"Vault Agent sidecars (injector), apps and External Secrets (ClusterSecretStore at VAULT_ADDR) "
               f"in the {k} cluster read secrets") for k in _keys(apps)),
        Flow("tooling-external-secrets-to-vault", "tooling.pods", "vault.nlb", VAULT_API,
             "External Secrets in the tooling cluster (ClusterSecretStore at VAULT_ADDR)"),
        Flow("vault-nlb-to-vault", "vault.nlb", "tooling.pods", VAULT_API,
             "the NLB forwards to the Vault pods (IP targets) and health-checks them"),
        Flow("vault-raft", "tooling.pods", "tooling.pods", VAULT_RAFT, "Vault raft peers replicate and forward to the leader"),
        Flow("vault-snapshot-to-vault", "tooling.pods", "tooling.pods", VAULT_API,
             "the vault-snapshot CronJob reads raft snapshots from the vault-active Service (the active pod)"),
        Flow("vault-tokenreview-tooling", "tooling.pods", "tooling.api", KUBERNETES_API,
             "Vault's Kubernetes auth reviews tooling service-account tokens (TokenReview)"),
        *(Flow(f"vault-tokenreview-{k}", "tooling.pods", f"{k}.api", KUBERNETES_API,
               f"Vault's Kubernetes auth reviews {k} service-account tokens (TokenReview), through the peering")
          for k in _keys(apps)),
        *((Flow("vault-to-postgres", "tooling.pods", "postgres", POSTGRES,
                "Vault's database engine manages the demo app's credentials"),
           Flow(f"{database}-workloads-to-postgres", f"{database}.pods", "postgres", POSTGRES,
                "the demo app uses its database")) if database else ()),
        # The ingress gateway's NLB and its targets, in each application cluster.
        *(flow for k in _keys(apps) for flow in (
            Flow(f"{k}-workloads-to-istio-gateway", f"{k}.pods", per_cluster(k, "istio-gateway.nlb", "."), 443,
                 f"clients in the {k} VPC reach the mesh's ingress gateway (HTTPS)"),
            Flow(f"{k}-workloads-to-istio-gateway-http", f"{k}.pods", per_cluster(k, "istio-gateway.nlb", "."), 80,
                 f"clients in the {k} VPC reach the mesh's ingress gateway (HTTP)"),
            *(Flow(per_cluster(k, f"istio-gateway-nlb-to-gateway-{port}"), per_cluster(k, "istio-gateway.nlb", "."),
                   f"{k}.pods", port, "the NLB forwards to (and health-checks) the ingress gateway pods")
              for port in ISTIO_GATEWAY_PORTS),
        )),
        # Storage and AWS APIs.
        Flow("tooling-to-efs", "tooling.pods", "efs", NFS, "the EFS CSI driver mounts shared volumes (TLS over NFS)",
             feature=EFS_FEATURE),
        # Flux image automation, in the tooling cluster only (flux/infrastructure/image-automation);
        # its registry reads go through the VPC endpoints (tooling-to-vpc-endpoints, below).
        Flow("tooling-image-automation-to-git", "tooling.pods", "git-server", git,
             "Flux's image-automation-controller clones the platform repository and pushes its branch "
             "flux/image-updates, opening the merge request ([gitops] url, through the NAT gateway)"),
        *(Flow(f"{c.key}-to-vpc-endpoints", f"{c.key}.pods", f"{c.key}.vpc-endpoints", HTTPS,
               "STS (IRSA), ECR" + (" (image pulls; Flux's image reflector logs in at ecr.api and lists the "
                                    "platform repositories' tags at ecr.dkr)" if c.role == TOOLING else "")
               + ", KMS" + (" (auto-unseal)" if c.role == TOOLING else "") + ", Logs")
          for c in (tooling, *apps)),
        # Each cluster's own traffic between control plane and nodes.
        *(flow for k in _keys((tooling, *apps)) for flow in (
            Flow(f"{k}-nodes-to-api", f"{k}.pods", f"{k}.api", KUBERNETES_API, "kubelets and controllers call the API"),
            Flow(f"{k}-api-to-kubelet", f"{k}.api", f"{k}.pods", KUBELET, "logs, exec, port-forward, metrics"),
        )),
        *_webhooks(tooling.key, TOOLING),
        *(flow for k in _keys(apps) for flow in _webhooks(k, APPLICATION)),
    )


def _keys(clusters: tuple[ClusterStacks, ...]) -> tuple[str, ...]:
    return tuple(c.key for c in clusters)


# Openings no flow needs that stay, each with its reason: (rule id suffix, reason). The
# suffix matches the end of a rule id as the checker prints it.
ACCEPTED_OPENINGS: tuple[tuple[str, str], ...] = (
    ("istio-gateway.nlb:frontend:15021",
     "the Istio gateway chart's Service lists its status port, so the NLB listens on it inside the "
     "application VPC; it answers health only"),
)
