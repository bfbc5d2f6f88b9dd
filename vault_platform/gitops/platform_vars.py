"""The contract between Terraform and GitOps: values only Terraform knows, by name.

The platform stack of each cluster writes these keys into the ConfigMap
``flux-system/platform-vars``; Flux Kustomizations under ``flux/`` read them with
``postBuild.substituteFrom`` as ``${KEY}``. This module is the one list of keys both sides
are tested against: a manifest may use only keys listed for its cluster, and the ConfigMap
must carry every key a manifest of its cluster uses. The IRSA role keys are not written
here: each add-on declares its own (``role_arn_var`` in vault_platform/addons/).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

CONFIGMAP_NAMESPACE = "flux-system"
CONFIGMAP_NAME = "platform-vars"

from vault_platform.cluster_roles import APPLICATION, BOTH, TOOLING  # noqa: F401 (re-exported)

EFS = "tooling.efs_enabled"
# An environment without a [ci] table trusts no GitLab instance: its ConfigMap has no GITLAB_URL.
CI = "ci"


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


_FIXED_VARS: tuple[PlatformVar, ...] = (
    PlatformVar("ENVIRONMENT_NAME", BOTH, "Environment name, the prefix of every AWS name (e.g. demo)."),
    PlatformVar("AWS_REGION", BOTH, "Region the cluster runs in."),
    PlatformVar("AWS_ACCOUNT_ID", BOTH, "Account the cluster runs in."),
    PlatformVar("CLUSTER_NAME", BOTH, "EKS name of this cluster (e.g. demo-tooling)."),
    PlatformVar("VPC_ID", BOTH, "VPC of this cluster, for the AWS load balancer controller."),
    PlatformVar("VAULT_ADDR", BOTH, "Vault's address for clients: https://vault.<private zone>:8200."),
    PlatformVar("VAULT_HOSTNAME", BOTH, "Vault's private DNS name (vault.<private zone>)."),
    PlatformVar("PRIVATE_ZONE_NAME", BOTH, "Route 53 private zone shared by both VPCs (e.g. tooling.internal)."),
    PlatformVar("PRIVATE_ZONE_ID", BOTH, "Id of that zone, for external-dns's zone filter."),
    PlatformVar("EBS_KMS_KEY_ARN", BOTH, "KMS key that encrypts the cluster's EBS volumes (gp3 StorageClass)."),
    PlatformVar("VAULT_KMS_KEY_ID", (TOOLING,), "KMS key id of Vault's awskms auto-unseal."),
    PlatformVar("VAULT_BACKUP_BUCKET", (TOOLING,), "S3 bucket of Vault's raft snapshots (the vault-snapshot CronJob writes there)."),
    PlatformVar("VAULT_BACKUP_SCHEDULE", (TOOLING,), "Cron schedule of the vault-snapshot CronJob: [tooling.vault_backup] schedule."),
    PlatformVar("ECR_REGISTRY", BOTH, "ECR registry host of the tooling stack's repositories (<account>.dkr.ecr.<region>.amazonaws.com): "
                "the runner pushes there, the application clusters pull from it (images/, docs/image-delivery.md)."),
    PlatformVar("GITOPS_URL", (TOOLING,), "The Git repository every cluster syncs ([gitops] url): the image automation "
                "pushes its branch there (flux/infrastructure/image-automation)."),
    PlatformVar("GITOPS_BRANCH", (TOOLING,), "The branch Flux deploys from ([gitops] branch): the image automation checks it "
                "out and opens its merge requests into it, never pushing to it."),
    PlatformVar("GITLAB_URL", (TOOLING,), "GitLab instance the runner registers with and Vault's jwt-gitlab trusts: the environment's [ci] "
                "gitlab_url (https, no path); absent without [ci].", feature=CI),
    PlatformVar("GITLAB_RUNNER_SUSPEND", (TOOLING,), "\"false\" with [ci]; absent without, where the gitlab-runner Kustomization's "
                "default (true) suspends it: a runner with no GitLab instance to register with is not installed.", feature=CI),
    PlatformVar("EFS_FILE_SYSTEM_ID", (TOOLING,), "EFS file system for shared tooling storage (StorageClass efs-shared provisions on it).",
                feature=EFS),
    PlatformVar("EFS_ACCESS_POINT_ID", (TOOLING,), "EFS access point of that file system, for a static PersistentVolume.",
                feature=EFS),
    PlatformVar("VAULT_CLIENT_CIDRS", (TOOLING,), "Ranges Vault's internal NLB admits (both VPCs, comma-separated): "
                "the load balancer controller's default for an internal NLB is its own VPC only."),
    PlatformVar("VAULT_KUBERNETES_CLUSTERS_B64", (TOOLING,), "Base64 of a JSON array, one object per application cluster "
                "sorted by name ({name, mount, kubernetes_host, kubernetes_ca_cert_b64}): vault-configure makes one "
                "Kubernetes auth mount per entry and removes the kubernetes-* mounts of clusters no longer listed."),
    PlatformVar("VAULT_KUBERNETES_MOUNT", (APPLICATION,), "This cluster's Kubernetes auth mount in Vault (kubernetes-<name>), "
                "for the ESO ClusterSecretStore and the Vault injector's authPath."),
    PlatformVar("DATABASE_HOST", BOTH, "Address of the application's PostgreSQL (Vault's database engine connects to it)."),
    PlatformVar("DATABASE_PORT", BOTH, "Port of that PostgreSQL."),
    PlatformVar("DATABASE_NAME", BOTH, "Database name the demo app uses."),
    PlatformVar("DATABASE_MASTER_SECRET_ARN", (TOOLING,), "Secrets Manager secret (managed by RDS) with the master credentials Vault's database engine starts from; the operator hands it to Vault once (README), no workload role reads it."),
    PlatformVar("VAULT_CA_CERT_B64", (APPLICATION,), "Base64 PEM of the private CA that signs Vault's listener certificate (the tooling platform stack makes it; its key pair is the Secret cert-manager/vault-ca-keypair in the tooling cluster)."),
)


# Vault's Kubernetes auth mount of an application cluster. vault-configure.hcl lets the
# configure Job manage exactly the mounts under this prefix (a policy glob may only end a
# path), and configure.py removes the ones no longer listed; the tooling cluster's own mount
# "kubernetes" has no hyphen, so it is never among them.
VAULT_KUBERNETES_MOUNT_PREFIX = "kubernetes-"


def vault_kubernetes_mount(cluster_short_name: str) -> str:
    """The Vault auth mount of the application cluster named ``cluster_short_name``."""
    return f"{VAULT_KUBERNETES_MOUNT_PREFIX}{cluster_short_name}"


def vault_kubernetes_cluster(cluster_short_name: str, kubernetes_host: object, ca_cert_b64: object) -> dict[str, object]:
    """One entry of VAULT_KUBERNETES_CLUSTERS_B64 (values may be Terraform tokens)."""
    return {"name": cluster_short_name, "mount": vault_kubernetes_mount(cluster_short_name),
            "kubernetes_host": kubernetes_host, "kubernetes_ca_cert_b64": ca_cert_b64}


def _role_vars() -> tuple[PlatformVar, ...]:
    """The IRSA role ARNs, one key per add-on that declares one (vault_platform/addons/)."""
    from vault_platform.addons import registry

    return tuple(PlatformVar(addon.role_arn_var, addon.cluster_roles, addon.role_arn_description, feature=addon.feature)
                 for addon in registry().values() if addon.role_arn_var)


PLATFORM_VARS: tuple[PlatformVar, ...] = _FIXED_VARS + _role_vars()


def keys_for(cluster: str, features_off: Collection[str] = ()) -> tuple[str, ...]:
    """The ConfigMap keys of one cluster's platform stack, less those of the switches in
    ``features_off``. Without it: every key the cluster can have."""
    return tuple(var.key for var in PLATFORM_VARS if cluster in var.clusters and var.feature not in features_off)


def optional_keys_for(cluster: str) -> dict[str, str]:
    """Key -> feature switch, for the keys of one cluster that some environments lack."""
    return {var.key: var.feature for var in PLATFORM_VARS if cluster in var.clusters and var.feature is not None}
