"""Semantic checks on a parsed environment. Each raises one ``ConfigError`` line."""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from datetime import date

from vault_platform.config.model import (
    DEPLOY_ACCESS,
    ApplicationConfig,
    DEPLOY_VIA_PUBLIC_ENDPOINT,
    OIDC_PROVIDER_CHOICES,
    CiConfig,
    ClusterConfig,
    DatabaseConfig,
    EnvironmentConfig,
    VaultBackupConfig,
    GitOpsConfig,
    NetworkConfig,
    NodeGroupConfig,
    PolicyConfig,
    StateConfig,
    VpnConfig,
    principal_key,
)
from vault_platform.config.quotas import check_quotas, check_regional_quotas
from vault_platform.config.regions import (
    BUILT_FOR,
    EKS_UNSUPPORTED_ZONE_IDS,
    MAX_ZONES,
    MIN_ZONES,
    partition_of,
)
from vault_platform.config.versions import (
    EKS_EXTENDED_SUPPORT_COST,
    KUBERNETES_VERSIONS,
    POSTGRES_MAJOR_VERSIONS,
    SupportedVersion,
    find,
    in_extended_support,
    in_standard_support,
)
from vault_platform.cluster_roles import APPLICATION, TOOLING
from vault_platform.errors import ConfigError


# EKS: 1-100 characters, starting alphanumeric, then alphanumerics, '-' and '_'.
EKS_CLUSTER_NAME_LIMIT = 100
# IAM role names are capped at 64 characters; add-on roles are named "<cluster>-<suffix>".
IAM_ROLE_NAME_LIMIT = 64

_NAME = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
_ACCOUNT = re.compile(r"^[0-9]{12}$")
_CHECKOV_ID = re.compile(r"^CKV2?_[A-Z0-9]+_[0-9]+$")
# A reason a reviewer can weigh, not "ok" or "n/a".
_REASON_MINIMUM = 20
_TAG_KEY_LIMIT, _TAG_VALUE_LIMIT = 128, 256
_DNS_ZONE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def validate_environment(env: EnvironmentConfig) -> None:
    _check_name("name", env.name, limit=20)
    _check_region_and_zones(env)
    if env.account_id is not None and not _ACCOUNT.match(env.account_id):
        raise ConfigError("account_id", env.account_id, "is not a 12-digit AWS account id", "write the id as a quoted 12-digit string, or remove the line")
    _check_assume_role(env)
    for key, value in env.tags.items():
        if not key or len(key) > _TAG_KEY_LIMIT or key.lower().startswith("aws:"):
            raise ConfigError(f"tags.{key}", value, "is not a usable tag key (1-128 characters, not starting with 'aws:')", "rename the tag")
        if len(value) > _TAG_VALUE_LIMIT:
            raise ConfigError(f"tags.{key}", value, "is longer than AWS's 256-character tag value limit", "shorten the value")

    tooling_cidr = _check_network("tooling.network", env.tooling.network, env.availability_zone_count)
    _check_cluster("tooling.cluster", env.tooling.cluster, env, cluster_role=TOOLING)
    if not _DNS_ZONE.match(env.tooling.private_zone_name):
        raise ConfigError("tooling.private_zone_name", env.tooling.private_zone_name, "is not a DNS zone name", "use lower-case labels separated by dots, e.g. tooling.internal")
    for index, repository in enumerate(env.tooling.ecr_repositories):
        if not re.match(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", repository) or len(repository) > 200:
            raise ConfigError(f"tooling.ecr_repositories[{index}]", repository, "is not a valid ECR repository name", "use lower-case letters, digits, '.', '_', '-' and '/'")
    _check_vault_backup("tooling.vault_backup", env.tooling.vault_backup)
    vpcs = [("tooling.network.cidr", tooling_cidr)]
    for field, application in application_fields(env):
        vpcs.append((f"{field}.network.cidr", _check_network(f"{field}.network", application.network, env.availability_zone_count,
                                                             example=_free_range(env))))
        _check_application_cluster(field, application, env)
    _check_disjoint(vpcs)
    _check_databases(env)
    if env.ci is not None:
        _check_ci("ci", env.ci, remote_state=env.state is not None)
    _check_gitops("gitops", env.gitops)
    _check_vpn("vpn", env.vpn, env, tuple(vpcs))
    _check_deploy("deploy", env)
    check_quotas(env)
    for name in ("vpcs_per_region", "internet_gateways_per_region", "elastic_ips_per_region", "nat_gateways_per_zone"):
        if getattr(env.quotas, name) < 1:
            raise ConfigError(f"quotas.{name}", getattr(env.quotas, name), "is not a quota an account can have",
                              "write the value Service Quotas shows for the account and region (AWS's default is 5)")
    check_regional_quotas(env)
    if env.state is not None:
        _check_state("state", env.state, env)
    _check_policy("policy", env.policy)


# Stack ids an application cluster's name would collide with (app.py: "<name>" and
# "<name>-platform" next to "tooling", "vpn", "tooling-platform", "state-bootstrap").
RESERVED_CLUSTER_NAMES = ("tooling", "vpn", "state-bootstrap")
RESERVED_CLUSTER_SUFFIX = "-platform"


def application_fields(env: EnvironmentConfig) -> tuple[tuple[str, ApplicationConfig], ...]:
    """Each application cluster with the field its errors name, application_clusters[i]."""
    return tuple((f"application_clusters[{index}]", app) for index, app in enumerate(env.application_clusters))


def _check_application_cluster(field: str, application: ApplicationConfig, env: EnvironmentConfig) -> None:
    name = application.cluster.name
    _check_cluster(f"{field}.cluster", application.cluster, env, example="payments", cluster_role=APPLICATION)
    if name == env.tooling.cluster.name:
        raise ConfigError(f"{field}.cluster.name", name, "is the same as tooling.cluster.name", "give the two clusters different names")
    if name in RESERVED_CLUSTER_NAMES or name.endswith(RESERVED_CLUSTER_SUFFIX):
        raise ConfigError(f"{field}.cluster.name", name, "is reserved: the cluster's stacks would take the id of another stack",
                          f"pick another name, not one of {', '.join(RESERVED_CLUSTER_NAMES)} nor ending in '{RESERVED_CLUSTER_SUFFIX}'")
    first = next(other for other, app in application_fields(env) if app.cluster.name == name)
    if first != field:
        raise ConfigError(f"{field}.cluster.name", name, f"is also {first}.cluster.name; its AWS names and stacks would collide",
                          "give each application cluster its own name")
    if application.database is not None:
        _check_database(f"{field}.database", application.database)


def _free_range(env: EnvironmentConfig) -> str:
    """A /16 in 10.0.0.0/8 that no VPC range of the file overlaps, for a fix's example."""
    taken = []
    for network in (env.tooling.network, *(app.network for app in env.application_clusters)):
        try:
            taken.append(ipaddress.IPv4Network(network.cidr, strict=False))
        except ValueError:
            continue
    free = next(c for c in ipaddress.IPv4Network("10.0.0.0/8").subnets(new_prefix=16)
                if c.network_address.packed[1] >= 10 and not any(c.overlaps(t) for t in taken))
    return str(free)


def _check_disjoint(vpcs: list[tuple[str, ipaddress.IPv4Network]]) -> None:
    """Every pair of VPC ranges: peering and the VPN's routes need disjoint ones."""
    for later, (field, cidr) in enumerate(vpcs):
        for other_field, other in vpcs[:later]:
            if cidr.overlaps(other):
                free = free_range(cidr.prefixlen, [taken for _, taken in vpcs])
                example = f"e.g. {free}, which no other range uses" if free else "a range no other VPC uses"
                raise ConfigError(
                    field, str(cidr), f"overlaps {other_field} {other}; VPC peering and the VPN's routes need disjoint ranges",
                    f"pick a range outside the {other_field.removesuffix('.network.cidr')} VPC ({other}), {example}",
                )


# Where a suggested range is looked for: the private blocks (RFC 1918), most usual first.
_SUGGESTION_POOLS = tuple(ipaddress.IPv4Network(block) for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def free_range(prefixlen: int, taken: list[ipaddress.IPv4Network],
               pools: tuple[ipaddress.IPv4Network, ...] = _SUGGESTION_POOLS) -> ipaddress.IPv4Network | None:
    """The first private range of that size overlapping none of ``taken``: a fix's example
    must be a value that passes, never the clashing one."""
    for pool in pools:
        if prefixlen < pool.prefixlen:
            continue
        for candidate in pool.subnets(new_prefix=prefixlen):
            if not any(candidate.overlaps(other) for other in taken):
                return candidate
    return None


def _check_databases(env: EnvironmentConfig) -> None:
    """Exactly one application cluster carries the demo database: Vault's database engine
    has one connection, and the demo app's Flux tree reads its platform vars."""
    carriers = [field for field, app in application_fields(env) if app.database is not None]
    if not carriers:
        raise ConfigError("application_clusters[].database", "<none>", "no application cluster has the demo database that Vault's database engine and the demo app need",
                          "add an [application_clusters.database] table to one cluster")
    if len(carriers) > 1:
        raise ConfigError(f"{carriers[1]}.database", "<table>", f"is a second demo database ({carriers[0]} has one); Vault's database engine connects to one",
                          f"remove the table from {carriers[1]} (or from {carriers[0]})")


def _check_supported(field: str, version: str, table: tuple[SupportedVersion, ...], what: str,
                     today: date | None = None) -> None:
    """A version of the dated table (config/versions.py) that AWS still creates: in standard
    support, or for EKS in extended support (kubernetes_notices says so at synth)."""
    today = today or date.today()
    current = ", ".join(row.version for row in in_standard_support(table, today))
    row = find(table, version)
    if row is None:
        oldest = table[0]
        if _version_key(version) is not None and _version_key(oldest.version) is not None \
                and _version_key(version) < _version_key(oldest.version):
            ended = oldest.extended_support_ends or oldest.standard_support_ends
            raise ConfigError(field, version, f"is older than every {what} AWS still runs: the oldest, {oldest.version}, "
                              f"left support on {ended.isoformat()} ({oldest.source})", f"use one in standard support: {current}")
        raise ConfigError(field, version, f"is not an {what} in vault_platform/config/versions.py",
                          f"use one in standard support: {current}")
    if row.extended_support_ends is not None:
        if row.extended_support_ends < today:
            raise ConfigError(field, version, f"left EKS extended support on {row.extended_support_ends.isoformat()} (standard "
                              f"support ended {row.standard_support_ends.isoformat()}; {row.source}): EKS no longer creates it "
                              "and upgrades existing control planes itself", f"use one in standard support: {current}")
        return
    if row.standard_support_ends < today:
        raise ConfigError(field, version, f"left AWS standard support on {row.standard_support_ends.isoformat()} ({row.source})",
                          f"use one in standard support: {current}")


def _version_key(version: str) -> tuple[int, ...] | None:
    return tuple(int(part) for part in version.split(".")) if re.fullmatch(r"[0-9]+(\.[0-9]+)*", version) else None


def kubernetes_notices(env: EnvironmentConfig, today: date | None = None) -> tuple[str, ...]:
    """One line per cluster whose Kubernetes version is in EKS extended support: since when,
    until when, what it costs and what to upgrade to (main.py prints them, the plan summary
    shows them). Empty while every cluster is in standard support."""
    today = today or date.today()
    newest = in_standard_support(KUBERNETES_VERSIONS, today)
    target = newest[-1].version if newest else "a version in standard support"
    notices = []
    clusters = [("tooling.cluster", env.tooling.cluster), *((f"{field}.cluster", app.cluster) for field, app in application_fields(env))]
    for field, cluster in clusters:
        row = find(KUBERNETES_VERSIONS, cluster.kubernetes_version)
        if row is not None and in_extended_support(row, today):
            notices.append(
                f"{field}.kubernetes_version {row.version} is in EKS extended support since "
                f"{date.fromordinal(row.standard_support_ends.toordinal() + 1).isoformat()}: {EKS_EXTENDED_SUPPORT_COST}; "
                f"EKS upgrades the control plane itself after {row.extended_support_ends.isoformat()}; upgrade to {target}")
    return tuple(notices)


def _check_deploy(field: str, env: EnvironmentConfig) -> None:
    access = env.deploy.access
    if access not in DEPLOY_ACCESS:
        raise ConfigError(f"{field}.access", access, "is not a way the deploying machine can reach the private EKS APIs",
                          f"use one of {', '.join(DEPLOY_ACCESS)}")
    if access == DEPLOY_VIA_PUBLIC_ENDPOINT:
        clusters = [("tooling", env.tooling.cluster), *((name, app.cluster) for name, app in application_fields(env))]
        for role, cluster in clusters:
            if not cluster.public_access_cidrs:
                raise ConfigError(
                    f"{role}.cluster.public_access_cidrs", [],
                    f"{field}.access = '{access}' needs the cluster's public endpoint, which is off without ranges",
                    "list the deploying machine's egress ranges there, or set deploy.access = 'vpn'",
                )


_ZONE_ID = re.compile(r"^[a-z]+[0-9]+-az[0-9]+$")


def _check_region_and_zones(env: EnvironmentConfig) -> None:
    partition = partition_of(env.region)
    if partition is None:
        raise ConfigError("region", env.region, "is not an AWS region (vault_platform/config/regions.py, read 2026-12-05)",
                          f"use a region of {', '.join(BUILT_FOR)}, e.g. eu-west-1, sa-east-1 or us-gov-west-1")
    if partition not in BUILT_FOR:
        raise ConfigError("region", env.region, f"is in the {partition} partition, which the stacks are not built for "
                          "(its service principals and endpoint names differ)", f"use a region of {', '.join(BUILT_FOR)}")
    if not MIN_ZONES <= env.availability_zone_count <= MAX_ZONES:
        raise ConfigError("availability_zone_count", env.availability_zone_count,
                          f"EKS needs subnets in at least {MIN_ZONES} zones and no region has more than {MAX_ZONES}",
                          f"use a number from {MIN_ZONES} to {MAX_ZONES}")
    if not env.zones:
        return
    if len(env.zones) != env.availability_zone_count:
        raise ConfigError("zones", list(env.zones), f"lists {len(env.zones)} zones for availability_zone_count = "
                          f"{env.availability_zone_count}", f"list {env.availability_zone_count} zones, or set availability_zone_count = {len(env.zones)}")
    ids = [bool(_ZONE_ID.match(zone)) for zone in env.zones]
    for index, zone in enumerate(env.zones):
        if not ids[index] and not (zone.startswith(env.region) and re.fullmatch(r"[a-z]", zone[len(env.region):])):
            raise ConfigError(f"zones[{index}]", zone, f"is neither a zone name of {env.region} nor a zone ID",
                              f"write a name such as {env.region}a or a zone ID such as euw1-az1 (aws ec2 describe-availability-zones)")
        if zone in EKS_UNSUPPORTED_ZONE_IDS:
            raise ConfigError(f"zones[{index}]", zone, "is a zone where EKS cannot place a control plane (EKS user guide, "
                              "VPC and subnet requirements)", "pick another zone of the region")
        if env.zones.index(zone) != index:
            raise ConfigError(f"zones[{index}]", zone, "is listed twice", "list each zone once")
    if len(set(ids)) > 1:
        raise ConfigError("zones", list(env.zones), "mixes zone names and zone IDs", "list names only or IDs only")


def _check_name(field: str, value: str, limit: int, example: str = "staging") -> None:
    if not _NAME.match(value):
        raise ConfigError(field, value, "must be lower-case a-z, 0-9 and '-', starting with a letter", f"rename it, e.g. '{example}'")
    if len(value) > limit:
        raise ConfigError(field, value, f"is longer than {limit} characters", f"shorten it, e.g. '{example}'")


def _check_network(field: str, network: NetworkConfig, zone_count: int, example: str = "10.10.0.0/16") -> ipaddress.IPv4Network:
    """example: a range that fits this VPC's field (not one another VPC of the file has)."""
    try:
        cidr = ipaddress.IPv4Network(network.cidr, strict=True)
    except ValueError as error:
        raise ConfigError(f"{field}.cidr", network.cidr, f"is not a valid IPv4 network ({error})", f"write a network address with its prefix, e.g. {example}") from None
    if not 16 <= cidr.prefixlen <= 20:
        raise ConfigError(f"{field}.cidr", network.cidr, "must be between /16 and /20 to fit public and private subnets in every zone", "use a /16 to /20 range")
    if not cidr.is_private:
        raise ConfigError(f"{field}.cidr", network.cidr, "is not a private (RFC 1918) range", "use a range inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16")
    if network.flow_log_retention_days not in _LOG_RETENTION_DAYS:
        raise ConfigError(f"{field}.flow_log_retention_days", network.flow_log_retention_days, "is not a CloudWatch retention period", f"use one of {_LOG_RETENTION_DAYS}")
    return cidr


def _check_cluster(field: str, cluster: ClusterConfig, env: EnvironmentConfig, example: str = "tooling", *,
                   cluster_role: str = TOOLING) -> None:
    """example: a name that fits this cluster's field (an application cluster is never "tooling")."""
    _check_name(f"{field}.name", cluster.name, limit=EKS_CLUSTER_NAME_LIMIT, example=example)
    full_name = env.cluster_name(cluster)
    if len(full_name) > EKS_CLUSTER_NAME_LIMIT:
        raise ConfigError(f"{field}.name", cluster.name, f"makes the EKS name '{full_name}' longer than EKS's {EKS_CLUSTER_NAME_LIMIT} characters", "shorten the environment or cluster name")
    # The longest add-on role suffix in the registry. Imported here, not at the top: the
    # registry imports the construct library, which config loading must not need.
    from vault_platform.addons import longest_role_suffix

    suffix = longest_role_suffix()
    longest_role = full_name + suffix
    if len(longest_role) > IAM_ROLE_NAME_LIMIT:
        raise ConfigError(
            f"{field}.name", cluster.name,
            f"makes the IAM role name '{longest_role}' longer than IAM's {IAM_ROLE_NAME_LIMIT} characters",
            f"keep '<environment>-<cluster>' within {IAM_ROLE_NAME_LIMIT - len(suffix)} characters",
        )
    _check_supported(f"{field}.kubernetes_version", cluster.kubernetes_version, KUBERNETES_VERSIONS, "EKS Kubernetes version")
    for index, cidr in enumerate(cluster.public_access_cidrs):
        where = f"{field}.public_access_cidrs[{index}]"
        try:
            network = ipaddress.IPv4Network(cidr, strict=True)
        except ValueError as error:
            raise ConfigError(where, cidr, f"is not a valid IPv4 network ({error})", "write e.g. 203.0.113.0/24") from None
        if network.prefixlen == 0:
            raise ConfigError(where, cidr, "opens the Kubernetes API to the whole internet", "list your office or CI egress ranges, or leave the list empty for private-only")
    keys: dict[str, str] = {}
    for index, principal in enumerate(cluster.admin_principal_arns):
        if not re.match(r"^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", principal):
            raise ConfigError(f"{field}.admin_principal_arns[{index}]", principal, "is not an IAM role or user ARN", "write arn:aws:iam::<account>:role/<name>")
        key = principal_key(principal)
        if key in keys:
            raise ConfigError(
                f"{field}.admin_principal_arns[{index}]", principal,
                f"has the access-entry id '{key}' of {keys[key]} (the type and the name after the last '/', +=,.@ as '-')",
                "list each role or user once; two principals whose names differ only there or in path or account cannot both be admins",
            )
        keys[key] = principal
    _check_addon_versions(f"{field}.addon_versions", cluster, env, cluster_role)
    if cluster.log_retention_days not in _LOG_RETENTION_DAYS:
        raise ConfigError(f"{field}.log_retention_days", cluster.log_retention_days, "is not a CloudWatch retention period", f"use one of {_LOG_RETENTION_DAYS}")
    if not cluster.node_groups:
        raise ConfigError(f"{field}.node_groups", [], "a cluster needs at least one node group", "add a [[...node_groups]] table")
    names = [group.name for group in cluster.node_groups]
    for index, group in enumerate(cluster.node_groups):
        _check_node_group(f"{field}.node_groups[{index}]", group)
        if names.count(group.name) > 1:
            raise ConfigError(f"{field}.node_groups[{index}].name", group.name, "is used by two node groups", "give each node group its own name")


# How EKS names an add-on version (DescribeAddonVersions' addonVersion): v<semver>-eksbuild.<n>.
_ADDON_VERSION = re.compile(r"^v[0-9]+\.[0-9]+\.[0-9]+-eksbuild\.[0-9]+$")


def _check_addon_versions(field: str, cluster: ClusterConfig, env: EnvironmentConfig, cluster_role: str) -> None:
    from vault_platform.addons import EksManaged, addons_for

    here = sorted(a.install.addon_name for a in addons_for(cluster_role, env) if isinstance(a.install, EksManaged))
    for name, version in cluster.addon_versions.items():
        if name not in here:
            raise ConfigError(f"{field}.{name}", version, "is not an EKS add-on this cluster runs",
                              f"pin one of {', '.join(here)}")
        if not isinstance(version, str) or not _ADDON_VERSION.match(version):
            raise ConfigError(f"{field}.{name}", version, "is not an EKS add-on version",
                              f"write it as EKS lists it, e.g. v1.19.2-eksbuild.1 (aws eks describe-addon-versions "
                              f"--addon-name {name} --kubernetes-version {cluster.kubernetes_version}), or remove the "
                              "line for the version EKS recommends")


def _check_node_group(field: str, group: NodeGroupConfig) -> None:
    _check_name(f"{field}.name", group.name, limit=20, example="system")
    if not group.instance_types:
        raise ConfigError(f"{field}.instance_types", [], "needs at least one instance type", "list e.g. [\"m6i.large\"]")
    for index, instance_type in enumerate(group.instance_types):
        if not re.match(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$", instance_type):
            raise ConfigError(f"{field}.instance_types[{index}]", instance_type, "is not an EC2 instance type", "write e.g. m6i.large")
    _check_sizes(field, group)
    if not 20 <= group.disk_size_gib <= 16384:
        raise ConfigError(f"{field}.disk_size_gib", group.disk_size_gib, "must be 20 to 16384 GiB", "use e.g. 50")
    if group.capacity_type not in ("ON_DEMAND", "SPOT"):
        raise ConfigError(f"{field}.capacity_type", group.capacity_type, "is not an EKS capacity type", "use ON_DEMAND or SPOT")


def _check_sizes(field: str, group: NodeGroupConfig) -> None:
    """EKS's scaling rules (max_size >= 1, 0 <= min_size <= desired_size <= max_size), each
    refused on the field that breaks it."""
    low, desired, high = group.min_size, group.desired_size, group.max_size
    if high < 1:
        raise ConfigError(f"{field}.max_size", high, "must be at least 1 (EKS)", "set max_size to 1 or more")
    if low < 0:
        raise ConfigError(f"{field}.min_size", low, "must not be negative", "set min_size to 0 or more")
    if low > high:
        raise ConfigError(f"{field}.min_size", low, f"is above max_size ({high})", f"lower min_size to {high} or less, or raise max_size")
    if desired < low:
        raise ConfigError(f"{field}.desired_size", desired, f"is below min_size ({low})",
                          f"raise desired_size to {low}..{high}, or adjust min_size")
    if desired > high:
        raise ConfigError(f"{field}.desired_size", desired, f"is above max_size ({high})",
                          f"lower desired_size to {low}..{high}, or raise max_size")


def _check_ci(field: str, ci: CiConfig, remote_state: bool) -> None:
    # The IAM OIDC provider's URL is the issuer: https, a host, nothing after it.
    if not re.match(r"^https://[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$", ci.gitlab_url):
        raise ConfigError(f"{field}.gitlab_url", ci.gitlab_url, "is not an https URL of a GitLab instance without a path",
                          "write e.g. https://gitlab.example.com (no trailing slash)")
    if not re.match(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$", ci.project_path):
        raise ConfigError(f"{field}.project_path", ci.project_path, "is not a GitLab project path",
                          "write group/project (subgroups allowed), without the instance URL")
    for name, value in (("project_id", ci.project_id), ("namespace_id", ci.namespace_id)):
        if value <= 0:
            raise ConfigError(f"{field}.{name}", value, "is not a GitLab id (a positive number)",
                              f"copy the {name.replace('_', ' ')} from GitLab (project: Settings > General; group: its overview page)")
    if ci.oidc_provider not in OIDC_PROVIDER_CHOICES:
        raise ConfigError(f"{field}.oidc_provider", ci.oidc_provider, "is neither 'create' nor 'existing'",
                          f"write \"create\" in the one environment of the account that owns the IAM OIDC provider of "
                          f"{ci.gitlab_url}, \"existing\" in every other environment of that account")
    if not re.match(r"^[A-Za-z0-9_./-]+$", ci.deploy_branch) or "*" in ci.deploy_branch:
        raise ConfigError(f"{field}.deploy_branch", ci.deploy_branch, "is not a single branch name",
                          "write the branch that deploys, e.g. main")
    if not ci.audience:
        raise ConfigError(f"{field}.audience", ci.audience, "is empty", "use sts.amazonaws.com")
    plan_branches = ci.effective_plan_branches(remote_state)
    if not plan_branches:
        raise ConfigError(f"{field}.plan_branches", [], "is empty, so no pipeline could assume the plan role",
                          f'list the branches that plan, e.g. ["{ci.deploy_branch}"], or ["*"] for any branch')
    if remote_state and "*" in plan_branches:
        raise ConfigError(f"{field}.plan_branches", list(plan_branches),
                          "lets a pipeline of any branch assume the plan role, which can decrypt the remote state "
                          "([state]) holding the VPN's and Vault's CA private keys",
                          f'list protected branches only, e.g. ["{ci.deploy_branch}"], or remove the line (default: deploy_branch)')
    for index, branch in enumerate(plan_branches):
        # '*' is the one wildcard: IAM's StringLike also reads '?' as one, which Git forbids in names.
        if not re.match(r"^[A-Za-z0-9_./*-]+$", branch) or ".." in branch:
            raise ConfigError(f"{field}.plan_branches[{index}]", branch, "is not a branch name or a pattern with '*'",
                              'write e.g. "main" or "release/*"')
    # The deploy job needs the plan job of the same pipeline (.gitlab-ci.yml).
    if not any(fnmatch.fnmatchcase(ci.deploy_branch, branch) for branch in plan_branches):
        raise ConfigError(f"{field}.plan_branches", list(plan_branches),
                          f"leaves out deploy_branch '{ci.deploy_branch}', whose deploy job needs its plan job",
                          f'add "{ci.deploy_branch}" to plan_branches')


def _check_database(field: str, database: DatabaseConfig) -> None:
    if not database.instance_class.startswith("db."):
        raise ConfigError(f"{field}.instance_class", database.instance_class, "is not an RDS instance class", "write e.g. db.t4g.medium")
    major, dot, _ = database.engine_version.partition(".")
    if dot and find(POSTGRES_MAJOR_VERSIONS, major):
        raise ConfigError(f"{field}.engine_version", database.engine_version,
                          "pins a minor version, which RDS retires within months and upgrades on its own (a plan would then show a downgrade)",
                          f'write the major version "{major}"; RDS applies minor upgrades itself (auto_minor_version_upgrade)')
    _check_supported(f"{field}.engine_version", database.engine_version, POSTGRES_MAJOR_VERSIONS, "RDS PostgreSQL major version")
    if not 20 <= database.allocated_storage_gib <= database.max_allocated_storage_gib:
        raise ConfigError(
            f"{field}.allocated_storage_gib", database.allocated_storage_gib,
            f"must be at least 20 and not above max_allocated_storage_gib ({database.max_allocated_storage_gib})",
            "raise max_allocated_storage_gib or lower allocated_storage_gib",
        )
    if not 1 <= database.backup_retention_days <= 35:
        raise ConfigError(f"{field}.backup_retention_days", database.backup_retention_days, "must be 1 to 35 days (0 would disable backups)", "use e.g. 7")
    for name in ("database_name", "master_username"):
        value = getattr(database, name)
        if not re.match(r"^[a-z][a-z0-9_]{0,62}$", value) or value in ("admin", "postgres", "rdsadmin"):
            raise ConfigError(f"{field}.{name}", value, "must be a lower-case PostgreSQL identifier that RDS does not reserve", "use e.g. vault_admin")


# AWS Client VPN: the client range must be /12 to /22, and these are its session lengths.
CLIENT_VPN_PREFIX_RANGE = (12, 22)
CLIENT_VPN_SESSION_HOURS = (8, 10, 12, 24)


# The VPN's clients usually take a range apart from the VPCs' 10/8.
_VPN_POOLS = tuple(reversed(_SUGGESTION_POOLS))


def _check_vpn(field: str, vpn: VpnConfig, env: EnvironmentConfig,
               vpcs: tuple[tuple[str, ipaddress.IPv4Network], ...]) -> None:
    try:
        client = ipaddress.IPv4Network(vpn.client_cidr, strict=True)
    except ValueError as error:
        raise ConfigError(f"{field}.client_cidr", vpn.client_cidr, f"is not a valid IPv4 network ({error})", "write a network address with its prefix, e.g. 172.16.0.0/22") from None
    shortest, longest = CLIENT_VPN_PREFIX_RANGE
    if not shortest <= client.prefixlen <= longest:
        raise ConfigError(f"{field}.client_cidr", vpn.client_cidr, f"must be between /{shortest} and /{longest} (AWS Client VPN's limits)", "use e.g. 172.16.0.0/22")
    for vpc_field, vpc_cidr in vpcs:
        if client.overlaps(vpc_cidr):
            raise ConfigError(
                f"{field}.client_cidr", vpn.client_cidr, f"overlaps {vpc_field} {vpc_cidr}; clients could not route to that VPC",
                f"pick a range outside every VPC, e.g. {free_range(client.prefixlen, [c for _, c in vpcs], pools=_VPN_POOLS)}",
            )
    if vpn.session_timeout_hours not in CLIENT_VPN_SESSION_HOURS:
        raise ConfigError(f"{field}.session_timeout_hours", vpn.session_timeout_hours, "is not a Client VPN session length", f"use one of {CLIENT_VPN_SESSION_HOURS}")
    if vpn.log_retention_days not in _LOG_RETENTION_DAYS:
        raise ConfigError(f"{field}.log_retention_days", vpn.log_retention_days, "is not a CloudWatch retention period", f"use one of {_LOG_RETENTION_DAYS}")
    count = vpn.association_count
    if count is not None and not 1 <= count <= env.availability_zone_count:
        raise ConfigError(
            f"{field}.association_count", count,
            f"must be 1 to availability_zone_count ({env.availability_zone_count}): the endpoint needs a subnet to reach the VPC",
            f"use a number from 1 to {env.availability_zone_count}, or remove the line for one per zone",
        )


# Flux's GitRepository clones over ssh:// or https:// only; scp-style "git@host:path" and
# plain http are refused by it (and http would send credentials in clear).
_GIT_URL = re.compile(r"^(ssh://[A-Za-z0-9._-]+@|https://)[A-Za-z0-9.-]+(:[0-9]+)?/[^\s]+$")
_GIT_BRANCH = re.compile(r"^(?!/)(?!.*\.\.)(?!.*//)[A-Za-z0-9._/-]+(?<![/.])$")
_FLUX_INTERVAL = re.compile(r"^([0-9]+(s|m|h))+$")
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _check_gitops(field: str, gitops: GitOpsConfig) -> None:
    if not _GIT_URL.match(gitops.url):
        raise ConfigError(f"{field}.url", gitops.url, "is not an ssh:// or https:// Git URL that Flux can clone",
                          "write ssh://git@<host>/<group>/<repo>.git (or https://<host>/<group>/<repo>.git)")
    if not _GIT_BRANCH.match(gitops.branch):
        raise ConfigError(f"{field}.branch", gitops.branch, "is not a Git branch name", "write e.g. main")
    if not gitops.path.startswith("./") or ".." in gitops.path.split("/") or gitops.path.endswith("/"):
        raise ConfigError(f"{field}.path", gitops.path, "must be a path inside the repository, starting with ./ and without ..",
                          "write e.g. ./flux/clusters")
    if gitops.secret_name and (not _K8S_NAME.match(gitops.secret_name) or len(gitops.secret_name) > 253):
        raise ConfigError(f"{field}.secret_name", gitops.secret_name, "is not a Kubernetes Secret name",
                          "use lower-case letters, digits and '-', e.g. flux-git-deploy-key")
    if gitops.url.startswith("ssh://") and not gitops.secret_name:
        raise ConfigError(f"{field}.secret_name", gitops.secret_name, "is empty but an ssh:// URL needs a deploy key",
                          "name the Secret that holds it, e.g. flux-git-deploy-key")
    if not _FLUX_INTERVAL.match(gitops.interval):
        raise ConfigError(f"{field}.interval", gitops.interval, "is not a Flux interval", "write e.g. 5m, 1h or 1m30s")


# CloudWatch Logs accepts only these retention periods.
_LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)


_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::([0-9]{12}):role/[A-Za-z0-9+=,.@_/-]{1,512}$")


def _check_assume_role(env: EnvironmentConfig) -> None:
    arn = env.assume_role_arn
    if arn is None:
        return
    match = _ROLE_ARN.match(arn)
    if not match:
        raise ConfigError("assume_role_arn", arn, "is not an IAM role ARN",
                          "write arn:aws:iam::<12-digit account>:role/<name>, or remove the line to use your own credentials")
    if env.account_id is not None and match.group(1) != env.account_id:
        raise ConfigError("assume_role_arn", arn, f"is a role in account {match.group(1)}, not account_id {env.account_id}",
                          "name the role of the account this environment deploys to, or correct account_id")


# S3 bucket names: 3-63 characters, lower-case letters, digits and '-'. Dots are legal for
# S3 but break TLS certificate matching of virtual-hosted requests, and the state bucket
# refuses anything but TLS, so they are refused here.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_AWS_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$")
_KMS_ARN = re.compile(r"^arn:aws[a-z-]*:kms:([a-z0-9-]+):([0-9]{12}):(key/(?:[0-9a-f-]{36}|mrk-[0-9a-f]{32})|alias/[A-Za-z0-9/_-]{1,250})$")


def tls_bucket_name(name: str) -> bool:
    """An S3 bucket name AWS accepts and that virtual-hosted TLS can reach (no dots)."""
    return bool(_BUCKET.match(name)) and not name.startswith(("xn--", "sthree-")) and not name.endswith(("-s3alias", "--ol-s3"))


def _check_state(field: str, state: StateConfig, env: EnvironmentConfig) -> None:
    if not tls_bucket_name(state.bucket):
        raise ConfigError(f"{field}.bucket", state.bucket, "is not an S3 bucket name usable over TLS (3-63 of a-z, 0-9 and '-', no dots)",
                          "write e.g. acme-vault-platform-tfstate")
    if not _AWS_REGION.match(state.region):
        raise ConfigError(f"{field}.region", state.region, "is not an AWS region name", f"write e.g. {env.region}")
    match = _KMS_ARN.match(state.kms_key_arn)
    if not match:
        raise ConfigError(f"{field}.kms_key_arn", state.kms_key_arn, "is not a KMS key or alias ARN",
                          f"write arn:aws:kms:{state.region}:<account>:alias/terraform-state (the bootstrap stack creates it)")
    key_region, key_account = match.group(1), match.group(2)
    if key_region != state.region:
        raise ConfigError(f"{field}.kms_key_arn", state.kms_key_arn,
                          f"is in {key_region} but the bucket is in {state.region}; S3 encrypts only with a key of its own region",
                          f"use a key in {state.region}")
    if env.account_id is not None and key_account != env.account_id:
        raise ConfigError(f"{field}.kms_key_arn", state.kms_key_arn, f"is in account {key_account}, not account_id {env.account_id}",
                          "use the key the environment's state-bootstrap stack creates in its own account")


# One field of a Kubernetes CronJob schedule: *, a number or a range, each with an optional
# /step, comma-separated. Month and weekday names (JAN, MON) are accepted as Kubernetes does.
_CRON_ITEM = re.compile(r"^(\*|[0-9]+|[A-Za-z]{3})(-([0-9]+|[A-Za-z]{3}))?(/[0-9]+)?$")
_CRON_RANGES = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
# Object Lock's retention: at least a day, at most what a bucket's default retention allows.
_MAX_RETENTION_DAYS = 36500


def cron_problem(schedule: str) -> str | None:
    """Why ``schedule`` is not a Kubernetes CronJob schedule, or None."""
    if schedule in _CRON_MACROS:
        return None
    fields = schedule.split()
    if len(fields) != 5:
        return f"has {len(fields)} fields, a cron schedule has 5 (minute hour day-of-month month day-of-week)"
    for text, (name, low, high) in zip(fields, _CRON_RANGES):
        for item in text.split(","):
            match = _CRON_ITEM.match(item)
            if not match:
                return f"{name} field '{text}' is not cron syntax"
            for number in (match.group(1), match.group(3)):
                if number and number.isdigit() and not low <= int(number) <= high:
                    return f"{name} field '{text}' is outside {low}-{high}"
            if match.group(4) and int(match.group(4)[1:]) == 0:
                return f"{name} field '{text}' has a step of 0"
    return None


def _check_vault_backup(field: str, backup: VaultBackupConfig) -> None:
    problem = cron_problem(backup.schedule)
    if problem:
        raise ConfigError(f"{field}.schedule", backup.schedule, f"is not a CronJob schedule: {problem}",
                          'write five fields, e.g. "0 * * * *" for hourly (the interval is the recovery point objective)')
    if not 1 <= backup.retention_days <= _MAX_RETENTION_DAYS:
        raise ConfigError(f"{field}.retention_days", backup.retention_days,
                          f"must be from 1 to {_MAX_RETENTION_DAYS} days (Object Lock's default retention)",
                          "write e.g. 30: snapshots cannot be deleted for that long, then expire")
    if backup.bucket and not tls_bucket_name(backup.bucket):
        raise ConfigError(f"{field}.bucket", backup.bucket, "is not an S3 bucket name usable over TLS (3-63 of a-z, 0-9 and '-', no dots)",
                          "write e.g. acme-vault-backup, or remove the line to let Terraform name it")


def _check_policy(field: str, policy: PolicyConfig) -> None:
    for check_id, reason in policy.accepted.items():
        if not _CHECKOV_ID.match(check_id):
            raise ConfigError(f"{field}.accepted.{check_id}", reason, "is not a checkov check id",
                              "use the id the policy gate prints, e.g. CKV_AWS_157")
        if len(reason.strip()) < _REASON_MINIMUM:
            raise ConfigError(f"{field}.accepted.{check_id}", reason, f"is not a reason a reviewer can weigh (under {_REASON_MINIMUM} characters)",
                              "say why this environment accepts the finding, e.g. what it trades for what")
