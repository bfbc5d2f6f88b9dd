"""The platform-vars a cluster's Flux tree is substituted with, for rendering without AWS.

Values the environment file decides (names, region, zone, URLs, CIDRs, mounts) are the real
ones; values only AWS assigns (ids, ARNs, hostnames) are placeholders in the shape AWS
returns them, so a chart that checks a value's form sees a well-formed one. The keys are
exactly platform_vars.keys_for(): a key added there without a value here fails loudly.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from vault_platform.addons import registry
from vault_platform.addons.vault import VAULT_PORT
from vault_platform.cluster_roles import APPLICATION, TOOLING
from vault_platform.config.model import ApplicationConfig, ClusterConfig, EnvironmentConfig
from vault_platform.gitops import platform_vars
from vault_platform.gitops.contract import features_off

PLACEHOLDER_ACCOUNT = "123456789012"
PLACEHOLDER_KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"


@dataclass(frozen=True)
class Cluster:
    """One cluster of an environment: key (tooling or the application cluster's short name),
    role (tooling/application) and its configuration."""

    key: str
    role: str
    config: ClusterConfig
    application: ApplicationConfig | None = None

    @property
    def kube_version(self) -> str:
        return f"v{self.config.kubernetes_version}.0"


def clusters(env: EnvironmentConfig) -> tuple[Cluster, ...]:
    """Tooling first, then each application cluster in file order (as app.cluster_stacks)."""
    return (Cluster("tooling", TOOLING, env.tooling.cluster),
            *(Cluster(app.cluster.name, APPLICATION, app.cluster, app) for app in env.application_clusters))


def sample_values(env: EnvironmentConfig, cluster: Cluster) -> dict[str, str]:
    account = env.account_id or PLACEHOLDER_ACCOUNT
    region = env.region
    eks_name = env.cluster_name(cluster.config)
    zone = env.tooling.private_zone_name
    database = next(app.database for app in env.application_clusters if app.database is not None)
    database_id = f"{env.name}-{database.database_name}"
    ca_pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    clusters_json = [platform_vars.vault_kubernetes_cluster(app.cluster.name, "https://0123456789ABCDEF.gr7.%s.eks.amazonaws.com" % region,
                                                            base64.b64encode(ca_pem.encode()).decode())
                     for app in sorted(env.application_clusters, key=lambda app: app.cluster.name)]
    known = {
        "ENVIRONMENT_NAME": env.name,
        "AWS_REGION": region,
        "AWS_ACCOUNT_ID": account,
        "CLUSTER_NAME": eks_name,
        "VPC_ID": "vpc-0123456789abcdef0",
        "VAULT_ADDR": f"https://vault.{zone}:{VAULT_PORT}",
        "VAULT_HOSTNAME": f"vault.{zone}",
        "PRIVATE_ZONE_NAME": zone,
        "PRIVATE_ZONE_ID": "Z0123456789ABCDEFGHIJ",
        "EBS_KMS_KEY_ARN": f"arn:aws:kms:{region}:{account}:key/{PLACEHOLDER_KEY_ID}",
        "VAULT_KMS_KEY_ID": PLACEHOLDER_KEY_ID,
        "ECR_REGISTRY": f"{account}.dkr.ecr.{region}.amazonaws.com",
        "GITOPS_URL": env.gitops.url,
        "GITOPS_BRANCH": env.gitops.branch,
        "EFS_FILE_SYSTEM_ID": "fs-0123456789abcdef0",
        "EFS_ACCESS_POINT_ID": "fsap-0123456789abcdef0",
        "VAULT_CLIENT_CIDRS": ",".join([env.tooling.network.cidr, *(app.network.cidr for app in env.application_clusters)]),
        "VAULT_KUBERNETES_CLUSTERS_B64": base64.b64encode(json.dumps(clusters_json).encode()).decode(),
        "VAULT_KUBERNETES_MOUNT": platform_vars.vault_kubernetes_mount(cluster.config.name),
        "DATABASE_HOST": f"{database_id}.abcdefghijkl.{region}.rds.amazonaws.com",
        "DATABASE_PORT": "5432",
        "DATABASE_NAME": database.database_name,
        "DATABASE_MASTER_SECRET_ARN": f"arn:aws:secretsmanager:{region}:{account}:secret:rds!db-{PLACEHOLDER_KEY_ID}-AbCdEf",
        "VAULT_CA_CERT_B64": base64.b64encode(ca_pem.encode()).decode(),
        "VAULT_BACKUP_BUCKET": env.tooling.vault_backup.bucket or f"{env.name}-vault-backup-20261205120000000000000001",
        "VAULT_BACKUP_SCHEDULE": env.tooling.vault_backup.schedule,
    }
    if env.ci is not None:  # feature ci: without [ci] the ConfigMap has no GITLAB_URL
        known["GITLAB_URL"] = env.ci.gitlab_url
        known["GITLAB_RUNNER_SUSPEND"] = "false"
    known.update({addon.role_arn_var: role_arn(account, eks_name, addon.irsa.role_suffix)
                  for addon in registry().values() if addon.role_arn_var and addon.irsa is not None})
    keys = platform_vars.keys_for(cluster.role, features_off(env))
    missing = [key for key in keys if key not in known]
    if missing:
        raise KeyError(f"vault_platform/rendering/platform_values.py has no sample value for {', '.join(missing)}; "
                       "add one in the shape the platform stack writes")
    return {key: known[key] for key in keys}


def role_arn(account: str, eks_name: str, suffix: str) -> str:
    return f"arn:aws:iam::{account}:role/{eks_name}-{suffix}"
