"""The contract between Terraform and GitOps: values only Terraform knows, by name.

The platform stack of each cluster writes these keys into the ConfigMap
``flux-system/platform-vars``; Flux Kustomizations under ``flux/`` read them with
``postBuild.substituteFrom`` as ``${KEY}``. This module is the one list of keys both sides
are tested against: a manifest may use only keys listed for its cluster, and the ConfigMap
must carry every key a manifest of its cluster uses.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

CONFIGMAP_NAMESPACE = "flux-system"
CONFIGMAP_NAME = "platform-vars"

TOOLING = "tooling"
APPLICATION = "application"
BOTH = (TOOLING, APPLICATION)

EFS = "tooling.efs_enabled"


@dataclass(frozen=True)
class PlatformVar:
    """feature: the environment switch (a dotted config field, e.g. "tooling.efs_enabled")
    the key belongs to; the ConfigMap of an environment that turns it off lacks the key. So
    a manifest may read such a key only with a default (``${KEY:=...}``), or it would break
    those environments. None (the default): every environment has the key."""

    key: str
    clusters: tuple[str, ...]
    description: str
    feature: str | None = None


PLATFORM_VARS: tuple[PlatformVar, ...] = (
    PlatformVar("ENVIRONMENT_NAME", BOTH, "Environment name, the prefix of every AWS name (e.g. demo)."),
    PlatformVar("AWS_REGION", BOTH, "Region the cluster runs in."),
    PlatformVar("AWS_ACCOUNT_ID", BOTH, "Account the cluster runs in."),
    PlatformVar("CLUSTER_NAME", BOTH, "EKS name of this cluster (e.g. demo-tooling)."),
    PlatformVar("VPC_ID", BOTH, "VPC of this cluster, for the AWS load balancer controller."),
    PlatformVar("VAULT_ADDR", BOTH, "Vault's address for clients: https://vault.<private zone>:8200."),
    PlatformVar("VAULT_HOSTNAME", BOTH, "Vault's private DNS name (vault.<private zone>)."),
    PlatformVar("PRIVATE_ZONE_NAME", BOTH, "Route 53 private zone shared by both VPCs (e.g. tooling.internal)."),
    PlatformVar("PRIVATE_ZONE_ID", BOTH, "Id of that zone, for external-dns's zone filter."),
    PlatformVar("EXTERNAL_DNS_ROLE_ARN", BOTH, "IRSA role of external-dns (kube-system/external-dns)."),
    PlatformVar("EXTERNAL_SECRETS_ROLE_ARN", BOTH, "IRSA role of External Secrets Operator (external-secrets/external-secrets)."),
    PlatformVar("EBS_KMS_KEY_ARN", BOTH, "KMS key that encrypts the cluster's EBS volumes (gp3 StorageClass)."),
    PlatformVar("VAULT_KMS_KEY_ID", (TOOLING,), "KMS key id of Vault's awskms auto-unseal."),
    PlatformVar("VAULT_ROLE_ARN", (TOOLING,), "IRSA role of Vault's server pods (vault/vault), allowed to use the unseal key."),
    PlatformVar("GITLAB_RUNNER_ROLE_ARN", (TOOLING,), "IRSA role of the GitLab runner's build pods (gitlab-runner/gitlab-runner-build), ECR push."),
    PlatformVar("ECR_REGISTRY", (TOOLING,), "ECR registry host (<account>.dkr.ecr.<region>.amazonaws.com)."),
    PlatformVar("GITLAB_URL", (TOOLING,), "GitLab instance the runner registers with: the environment's [ci] gitlab_url (https, no path)."),
    PlatformVar("EFS_FILE_SYSTEM_ID", (TOOLING,), "EFS file system for shared tooling storage (StorageClass efs-shared provisions on it).",
                feature=EFS),
    PlatformVar("EFS_ACCESS_POINT_ID", (TOOLING,), "EFS access point of that file system, for a static PersistentVolume.",
                feature=EFS),
    PlatformVar("VAULT_CLIENT_CIDRS", (TOOLING,), "Ranges Vault's internal NLB admits (both VPCs, comma-separated): "
                "the load balancer controller's default for an internal NLB is its own VPC only."),
    PlatformVar("APPLICATION_CLUSTER_ENDPOINT", (TOOLING,), "API endpoint of the application cluster, for Vault's Kubernetes auth of that cluster."),
    PlatformVar("APPLICATION_CLUSTER_CA", (TOOLING,), "Base64 CA certificate of the application cluster, for the same."),
    PlatformVar("VAULT_KUBERNETES_CLUSTERS_B64", (TOOLING,), "Base64 of a JSON array, one object per application cluster sorted by "
                "name: name, mount (kubernetes-<name>), kubernetes_host, kubernetes_ca_cert_b64; Vault's Kubernetes auth mount of each."),
    PlatformVar("DATABASE_HOST", BOTH, "Address of the application's PostgreSQL (Vault's database engine connects to it)."),
    PlatformVar("DATABASE_PORT", BOTH, "Port of that PostgreSQL."),
    PlatformVar("DATABASE_NAME", BOTH, "Database name the demo app uses."),
    PlatformVar("DATABASE_MASTER_SECRET_ARN", (TOOLING,), "Secrets Manager secret (managed by RDS) with the master credentials Vault's database engine starts from; readable by the External Secrets role."),
    PlatformVar("VAULT_KUBERNETES_MOUNT", (APPLICATION,), "This cluster's Kubernetes auth mount in Vault (kubernetes-<name>), for ESO's "
                "ClusterSecretStore and the injector's authPath."),
    PlatformVar("VAULT_CA_CERT_B64", (APPLICATION,), "Base64 PEM of the private CA that signs Vault's listener certificate (the tooling platform stack makes it; its key pair is the Secret cert-manager/vault-ca-keypair in the tooling cluster)."),
)


def kubernetes_auth_mount(cluster_name: str) -> str:
    """Vault's Kubernetes auth mount path of the application cluster with this short name
    (CONTRACT.md); the tooling cluster's own mount stays "kubernetes"."""
    return f"kubernetes-{cluster_name}"


def keys_for(cluster: str, features_off: Collection[str] = ()) -> tuple[str, ...]:
    """The ConfigMap keys of one cluster's platform stack, less those of the switches in
    ``features_off``. Without it: every key the cluster can have."""
    return tuple(var.key for var in PLATFORM_VARS if cluster in var.clusters and var.feature not in features_off)


def optional_keys_for(cluster: str) -> dict[str, str]:
    """Key -> feature switch, for the keys of one cluster that some environments lack."""
    return {var.key: var.feature for var in PLATFORM_VARS if cluster in var.clusters and var.feature is not None}
