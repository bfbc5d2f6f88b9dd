"""Typed, frozen description of one environment: what the user decides, nothing derived.

An environment file (``environments/<name>.toml``) is parsed into these classes by
``config.load``; every field is checked there, before a single construct is built. The
defaults documented here are the only defaults: constructs do not invent their own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from vault_platform.config.versions import DEFAULT_KUBERNETES_VERSION, DEFAULT_POSTGRES_VERSION


def _no_entries() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class NodeGroupConfig:
    """One EKS managed node group."""

    name: str
    instance_types: tuple[str, ...] = ("m6i.large",)
    min_size: int = 2
    max_size: int = 4
    desired_size: int = 3
    disk_size_gib: int = 50
    capacity_type: str = "ON_DEMAND"  # or SPOT
    labels: Mapping[str, str] = field(default_factory=_no_entries)


@dataclass(frozen=True)
class ClusterConfig:
    """One EKS cluster."""

    name: str  # short name, e.g. "tooling"; the AWS name is "<environment>-<name>"
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION  # a row of config/versions.py in standard support
    # CIDRs allowed to reach the public API endpoint. Empty (the default) disables the
    # public endpoint: the API is then reachable only from inside the VPCs or through the VPN.
    public_access_cidrs: tuple[str, ...] = ()
    node_groups: tuple[NodeGroupConfig, ...] = (NodeGroupConfig(name="system"),)
    # IAM principals (role/user ARNs) given cluster-admin through an EKS access entry.
    admin_principal_arns: tuple[str, ...] = ()
    log_retention_days: int = 90
    # EKS add-on versions pinned by add-on name (coredns = "v1.11.4-eksbuild.2"). An add-on
    # not listed gets the version EKS recommends for kubernetes_version, resolved at plan
    # time (constructs/eks.py), so a version bump moves it; a pin stays until edited.
    addon_versions: Mapping[str, str] = field(default_factory=_no_entries)


def principal_key(principal_arn: str) -> str:
    """What an admin principal is called in Terraform addresses (its EKS access entry), so
    removing one from the list leaves the others' addresses alone: ``role-<name>`` or
    ``user-<name>``, the name after the ARN's last '/', with the characters IAM names allow
    but Terraform ids do not (+=,.@) as '-'. config/validate.py refuses two with one key."""
    kind, _, path = principal_arn.split(":", 5)[-1].partition("/")
    return f"{kind}-" + re.sub(r"[^A-Za-z0-9_-]", "-", path.rsplit("/", 1)[-1])


@dataclass(frozen=True)
class NetworkConfig:
    """One VPC."""

    cidr: str
    # One NAT gateway per AZ (default) survives the loss of an AZ; one in total is cheaper.
    single_nat_gateway: bool = False
    flow_log_retention_days: int = 90


@dataclass(frozen=True)
class DatabaseConfig:
    """The application's PostgreSQL, used by the demo app through Vault's database engine."""

    instance_class: str = "db.t4g.medium"
    # The major version only (config/versions.py); RDS applies minor versions itself.
    engine_version: str = DEFAULT_POSTGRES_VERSION
    allocated_storage_gib: int = 20
    max_allocated_storage_gib: int = 100
    multi_az: bool = True
    backup_retention_days: int = 7
    database_name: str = "demo"
    master_username: str = "vault_admin"


@dataclass(frozen=True)
class VaultBackupConfig:
    """Vault's raft snapshots (``[tooling.vault_backup]``): the CronJob's schedule and the
    bucket's retention (docs/vault-dr.md). The schedule interval is the recovery point
    objective: at most that much of Vault's changes is lost in a restore."""

    # Kubernetes CronJob syntax (five fields, UTC): hourly by default.
    schedule: str = "0 * * * *"
    # Object Lock's default retention: no one, this platform's own roles included, can delete
    # or overwrite a snapshot for this many days (GOVERNANCE mode). Snapshots expire then.
    retention_days: int = 30
    # Empty: Terraform names the bucket "<environment>-vault-backup-<unique suffix>". Set it
    # to adopt a name you chose (3-63 of a-z, 0-9 and '-').
    bucket: str = ""


@dataclass(frozen=True)
class ToolingConfig:
    network: NetworkConfig
    cluster: ClusterConfig
    private_zone_name: str = "tooling.internal"
    ecr_repositories: tuple[str, ...] = ("demo-app", "ci-build-images")
    # Where the EFS file system is mounted from: the tooling cluster's shared storage.
    efs_enabled: bool = True
    vault_backup: VaultBackupConfig = VaultBackupConfig()


@dataclass(frozen=True)
class ApplicationConfig:
    """One application cluster (a ``[[application_clusters]]`` table): its own VPC, peered
    to tooling only, and EKS cluster; ``cluster.name`` names its stacks and Vault mount."""

    network: NetworkConfig
    cluster: ClusterConfig
    # The demo app's PostgreSQL. Exactly one application cluster of an environment carries
    # it: Vault's database engine has one connection (config/validate.py).
    database: DatabaseConfig | None = None


@dataclass(frozen=True)
class VpnConfig:
    """The AWS Client VPN endpoint into the tooling VPC (the ``vpn`` stack)."""

    # Addresses handed to connected clients. AWS allows /12 to /22; it must overlap neither
    # VPC (nor the networks operators connect from), or routes to it become ambiguous.
    client_cidr: str = "172.16.0.0/22"
    # Hours a connection lasts before the client must reconnect: 8, 10, 12 or 24.
    session_timeout_hours: int = 8
    # Only traffic for the two VPCs goes through the tunnel; the operator's internet stays local.
    split_tunnel: bool = True
    log_retention_days: int = 90
    # Subnet associations (each one billed per hour), in the first N tooling private subnets.
    # Unset (the default): one per availability zone of the environment.
    association_count: int | None = None


# How the machine running `cdktf deploy` reaches the private EKS APIs that the platform
# stacks' kubernetes and helm providers call (README "Stacks and deploy order").
DEPLOY_VIA_VPN = "vpn"
DEPLOY_VIA_PUBLIC_ENDPOINT = "public-endpoint"
DEPLOY_ACCESS = (DEPLOY_VIA_VPN, DEPLOY_VIA_PUBLIC_ENDPOINT)


@dataclass(frozen=True)
class DeployConfig:
    """How the deploying machine reaches the clusters' APIs during the platform stacks.

    "vpn" (default): it connects to the Client VPN, so the vpn stack deploys before the
    platform stacks (they depend on it) and nothing is public. "public-endpoint": each
    cluster's public endpoint, open only to its ``public_access_cidrs`` (the deploying
    machine's egress ranges); one `cdktf deploy '*'` then needs no VPN connection."""

    access: str = DEPLOY_VIA_VPN


@dataclass(frozen=True)
class GitOpsConfig:
    """The Git repository Flux syncs each cluster from (the platform stacks' GitRepository).

    The credentials are never in this file: with an ssh URL, Flux reads the Secret
    ``flux-system/<secret_name>`` (identity, known_hosts). The platform stack writes it from
    the sensitive Terraform variable ``flux_git_ssh_private_key`` when that is set, else the
    operator creates it beforehand.
    """

    # ssh://git@host/path.git or https://host/path.git (scp-style git@host:path is not
    # accepted by Flux's GitRepository).
    url: str = "ssh://git@gitlab.example.com/platform/vault-platform.git"
    branch: str = "main"
    # Directory of the per-cluster entry points in the repository; the Kustomization of a
    # cluster reads <path>/<cluster>, e.g. ./flux/clusters/tooling.
    path: str = "./flux/clusters"
    # Secret with the Git credentials in flux-system. Empty: no credentials (public https only).
    secret_name: str = "flux-git-deploy-key"
    # How often Flux polls the branch and re-applies the cluster's Kustomization.
    interval: str = "5m"


@dataclass(frozen=True)
class StateConfig:
    """Remote Terraform state of every stack of the environment (S3 backend).

    Created by the environment's ``state-bootstrap`` stack (``python main.py --env <name>
    --bootstrap``). Each stack keeps its own object ``<name>/<stack id>.tfstate``, locked
    by Terraform's S3 lockfile and encrypted with the key below.
    """

    bucket: str
    region: str
    # Alias ARN (arn:aws:kms:<region>:<account>:alias/<name>): the bootstrap stack creates
    # the key under that alias. A key ARN names an existing key you manage yourself.
    kms_key_arn: str

    @property
    def kms_key_alias(self) -> str | None:
        """The alias name (after ``alias/``) of an alias ARN; None for a key ARN."""
        _, _, alias = self.kms_key_arn.partition(":alias/")
        return alias or None


# How an environment gets the IAM OIDC provider of its GitLab instance. IAM allows one
# provider per account and issuer URL: the first environment of an account creates it, every
# other one in that account names the same instance and looks it up (a second create fails with
# EntityAlreadyExists, and destroying the creator would remove what the others' roles trust).
OIDC_PROVIDER_CREATE = "create"
OIDC_PROVIDER_EXISTING = "existing"
OIDC_PROVIDER_CHOICES = (OIDC_PROVIDER_CREATE, OIDC_PROVIDER_EXISTING)


@dataclass(frozen=True)
class CiConfig:
    """The GitLab project whose pipelines may plan and deploy this environment: the only
    external identity the environment trusts. Without a [ci] table there are no CI roles and
    no GitLab OIDC provider, so no pipeline anywhere can reach the account.

    The tooling stack trusts the instance's OIDC issuer (``gitlab_url``) and binds two roles
    to the ``sub`` claim of this project: plan (read-only, and with ``[state]`` able to read
    the state) from ``plan_branches``, deploy from ``deploy_branch`` only. No static AWS
    keys exist anywhere. Nothing here has a default instance or project: each is named.

    ``project_id`` and ``namespace_id`` are GitLab's immutable ids of that project and its
    group. IAM can test only ``aud`` and ``sub`` of a GitLab token (AWS IAM User Guide,
    "Available keys for AWS OIDC federation": GitLab has no provider-specific keys), and
    GitLab's ``sub`` always starts with the renameable ``project_path`` (GitLab projects API,
    ``ci_id_token_sub_claim_components``). So the roles bind the path; the ids are recorded
    on the roles (tags) and in the plan summary, for a reviewer to check that the path still
    names the same project, and bound by Vault's jwt-gitlab roles, which can test any claim.
    """

    gitlab_url: str  # the instance's issuer URL, https, no path: e.g. https://gitlab.com
    project_path: str  # group[/subgroup...]/project
    project_id: int  # Settings > General of the project ("Project ID")
    namespace_id: int  # the id of the project's group (or user namespace)
    oidc_provider: str  # "create" (this environment owns the account's provider) or "existing"
    deploy_branch: str = "main"
    audience: str = "sts.amazonaws.com"  # the id_tokens aud of .gitlab-ci.yml
    # Branches whose pipelines may assume the plan role: names, or patterns with '*'. With
    # [state] the plan role can decrypt the remote state, which holds the VPN's and Vault's CA
    # private keys, and anyone who can push a listed branch can run code as it: so with
    # [state] only protected branches may be listed ('*' is refused) and the default is
    # deploy_branch alone. Without [state] (local state, nothing for CI to read) the
    # default is '*', so every merge request shows its plan.
    plan_branches: tuple[str, ...] | None = None

    def effective_plan_branches(self, remote_state: bool) -> tuple[str, ...]:
        """plan_branches, or its default: deploy_branch with remote state, else any branch."""
        if self.plan_branches is not None:
            return self.plan_branches
        return (self.deploy_branch,) if remote_state else ("*",)

    @property
    def issuer_host(self) -> str:
        """The issuer without https://: the prefix of IAM's condition keys for its tokens."""
        return self.gitlab_url.removeprefix("https://")


@dataclass(frozen=True)
class PolicyConfig:
    """Policy-gate findings this environment accepts on purpose: checkov check id -> why.

    For what the environment decides (a single-zone database in staging), reviewed with the
    file; findings the code causes are accepted next to that code (``CHECKOV_SUPPRESSIONS``).
    An accepted check that no longer fails in this environment fails the gate as stale.
    """

    accepted: Mapping[str, str] = field(default_factory=_no_entries)


@dataclass(frozen=True)
class AccountQuotasConfig:
    """What the account has in the environment's region, for the quota check
    (config/quotas.py). The defaults are a fresh account's: AWS's default quotas and a default
    VPC (with its internet gateway). Raise a value only after Service Quotas granted it (the
    check's message names the quota code); set default_vpc = false once it is deleted."""

    vpcs_per_region: int = 5
    internet_gateways_per_region: int = 5
    elastic_ips_per_region: int = 5
    nat_gateways_per_zone: int = 5
    default_vpc: bool = True


@dataclass(frozen=True)
class EnvironmentConfig:
    """Everything one deployment of the platform needs: one file, one of these."""

    name: str
    region: str
    tooling: ToolingConfig
    # In file order, at least one. The legacy single [application] table loads as a
    # one-element tuple (config/load.py).
    application_clusters: tuple[ApplicationConfig, ...]
    vpn: VpnConfig = VpnConfig()
    deploy: DeployConfig = DeployConfig()
    gitops: GitOpsConfig = GitOpsConfig()
    # None: no CI roles and no GitLab OIDC provider; the environment trusts no pipeline.
    ci: CiConfig | None = None
    policy: PolicyConfig = PolicyConfig()
    quotas: AccountQuotasConfig = AccountQuotasConfig()
    # When set, the AWS provider refuses to run against any other account.
    account_id: str | None = None
    # An IAM role the AWS provider (and the S3 backend) assumes: reach another account
    # from the operator's or CI's credentials. Its account must be account_id when set.
    assume_role_arn: str | None = None
    # Unset: each stack keeps local state next to cdktf.json (stacks/base.py state_path).
    state: StateConfig | None = None
    availability_zone_count: int = 3
    # Pinned zones, names (eu-west-1a) or zone IDs (euw1-az1), availability_zone_count of
    # them; empty: the first available zones AWS reports at plan time (config/regions.py).
    zones: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=_no_entries)
    # Where this file came from, for error messages; not read from the file.
    source: str = ""

    @property
    def partition(self) -> str:
        from vault_platform.config.regions import partition_of

        return partition_of(self.region) or "aws"

    def cluster_name(self, cluster: ClusterConfig) -> str:
        return f"{self.name}-{cluster.name}"

    @property
    def database_cluster(self) -> ApplicationConfig:
        """The application cluster that carries the demo database (validated: exactly one)."""
        return next(app for app in self.application_clusters if app.database is not None)
