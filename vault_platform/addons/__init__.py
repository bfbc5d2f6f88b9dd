"""The add-on registry: one module (or package) per add-on below this package, each with a
module-level ``ADDON`` that says, in one place, everything the platform knows about it.

An ``Addon`` declares how it is installed (a pinned chart the platform stack installs, an
EKS-managed add-on, or its directory under ``flux/``), the kinds of cluster it runs on, its
IRSA identity and permissions, the platform-vars key and stack output of its role, the
admission webhooks the API server calls (network flows), and its accepted policy findings
(``PARLIAMENT_ACCEPTED`` / ``CHECKOV_SUPPRESSIONS`` dicts next to the code they excuse,
collected by vault_platform/ops/accepted_findings.py).

Everything else is derived from ``registry()``: the IRSA roles each cluster stack creates
and outputs (stacks/addon_roles.py), the role keys of the platform-vars contract
(gitops/platform_vars.py) and their values (stacks/platform.py), the charts and their
install order, the webhook flows (flows/declared.py), the longest IAM role name
(config/validate.py) and the tests' tables. Discovery is by module, like the accepted
findings: adding an add-on is adding a module here (and its flux/ files), no list to edit.
Order is never taken from discovery: charts are installed in dependency order
(``install_order``), everything else is keyed by name.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from vault_platform.cluster_roles import APPLICATION, BOTH, TOOLING  # noqa: F401 (for add-on modules)
from vault_platform.constructs.helm_chart import HelmAddonProps
from vault_platform.constructs.policy import Statement
from vault_platform.errors import ConfigError


@dataclass(frozen=True)
class IrsaIdentity:
    """The one Kubernetes service account an add-on's IAM role trusts. The role is named
    ``<cluster>-<role_suffix>`` and its construct id is ``<role_suffix>-irsa`` (fixed, so
    the Terraform address does not depend on where the role is built)."""

    namespace: str
    service_account: str
    role_suffix: str

    @property
    def construct_id(self) -> str:
        return f"{self.role_suffix}-irsa"

    @property
    def subject(self) -> str:
        """``<namespace>/<service account>``, as messages and tests name it."""
        return f"{self.namespace}/{self.service_account}"


@dataclass(frozen=True)
class PermissionContext:
    """What a cluster's stack knows that add-on permissions name. Fields an add-on does not
    run with stay empty (e.g. the unseal key outside the tooling cluster)."""

    cluster_name: str  # the EKS name (<environment>-<cluster>)
    environment: str
    partition: str
    region: str
    account_id: str
    ebs_kms_key_arn: str
    zone_arn: str
    vault_unseal_key_arn: str = ""
    ecr_repository_arns: tuple[str, ...] = ()
    # Vault's snapshot bucket and its own KMS key (constructs/backup_bucket.py).
    vault_backup_bucket_arn: str = ""
    vault_backup_key_arn: str = ""


@dataclass(frozen=True)
class RoleOutput:
    """The AWS stack output carrying the role's ARN; note: added to its description."""

    name: str
    note: str = ""


@dataclass(frozen=True)
class EksManaged:
    """Installed by EKS (aws_eks_addon) at EKS's default version for the cluster's Kubernetes
    version. needs_nodes: a Deployment, so it waits for the node groups."""

    addon_name: str
    needs_nodes: bool = False


@dataclass(frozen=True)
class FluxInstalled:
    """Installed by Flux from ``path`` (relative to the repository root)."""

    path: str


@dataclass(frozen=True)
class Webhook:
    """An admission webhook the cluster's API server calls on the add-on's pods: the port is
    the container port of the pinned chart's default (flows/declared.py makes it a flow)."""

    name: str
    port: int


@dataclass(frozen=True)
class Addon:
    """install: a ``HelmAddonProps`` (the platform stack installs the pinned chart; its
    ``depends_on`` and ``needs`` are the add-on's dependencies), ``EksManaged`` or
    ``FluxInstalled``. cluster_roles: the kinds of cluster it runs on. feature: a dotted
    config switch; where it is off the add-on (and its role) does not exist.
    permissions: the role's inline statements for one cluster. role_arn_var: the
    platform-vars key its role's ARN is written to, for the manifests in flux/."""

    name: str
    install: HelmAddonProps | EksManaged | FluxInstalled
    cluster_roles: tuple[str, ...]
    irsa: IrsaIdentity | None = None
    permissions: Callable[[PermissionContext], tuple[Statement, ...]] | None = None
    managed_policies: tuple[str, ...] = ()  # AWS-managed policy names, only where AWS keeps the exact list
    role_arn_var: str | None = None
    role_arn_description: str = ""
    role_output: RoleOutput | None = None
    webhooks: tuple[Webhook, ...] = ()
    feature: str | None = None
    # The role may only read: IAM lint (check 6) fails any action above AWS's List and Read
    # access levels, and any Resource "*" on an action AWS lets a policy scope.
    read_only: bool = False
    # Values only a cluster's stack knows, merged into a chart's values (HelmAddonProps.with_values).
    chart_values: Callable[[ChartContext], dict[str, object]] | None = field(default=None, compare=False)

    @property
    def chart(self) -> HelmAddonProps | None:
        return self.install if isinstance(self.install, HelmAddonProps) else None

    @property
    def depends_on(self) -> tuple[str, ...]:
        """Add-ons installed before this one (declared once, in its chart props)."""
        return self.chart.depends_on if self.chart is not None else ()

    def runs_on(self, cluster_role: str) -> bool:
        return cluster_role in self.cluster_roles

    def statements(self, context: PermissionContext) -> tuple[Statement, ...]:
        return self.permissions(context) if self.permissions is not None else ()


@dataclass(frozen=True)
class ChartContext:
    """What a platform stack knows that chart values name: the cluster's kind (cluster_roles.py),
    EKS name, region, VPC, its add-ons' role ARNs (by add-on name), the GitOps settings and its
    Flux path."""

    cluster_role: str
    cluster_name: str
    region: str
    vpc_id: str
    role_arns: dict[str, str]
    gitops: object  # config.model.GitOpsConfig
    flux_path: str


@functools.lru_cache(maxsize=1)
def registry() -> dict[str, Addon]:
    """Every add-on module's ``ADDON``, by add-on name. A module without one is an error:
    the package holds add-ons only (helpers live inside an add-on's own subpackage)."""
    found: dict[str, Addon] = {}
    for info in sorted(pkgutil.iter_modules(__path__, prefix=f"{__name__}."), key=lambda i: i.name):
        module = importlib.import_module(info.name)
        addon = getattr(module, "ADDON", None)
        if not isinstance(addon, Addon):
            raise ConfigError(info.name, "<no ADDON>", "is a module of vault_platform/addons without a module-level ADDON",
                              "declare ADDON = Addon(...) in it, or move the helper into an add-on's subpackage")
        if addon.name in found:
            raise ConfigError(f"addons.{addon.name}", info.name, "names an add-on another module already declares",
                              "give each add-on module its own name")
        found[addon.name] = addon
    return found


def feature_on(env: object, feature: str | None) -> bool:
    """A dotted config switch (e.g. "tooling.efs_enabled") read from the environment; None is on."""
    return feature is None or bool(functools.reduce(getattr, feature.split("."), env))


def addons_for(cluster_role: str, env: object | None = None) -> tuple[Addon, ...]:
    """The add-ons of one kind of cluster, by name; with ``env``: only those whose feature is on."""
    return tuple(addon for name, addon in sorted(registry().items())
                 if addon.runs_on(cluster_role) and (env is None or feature_on(env, addon.feature)))


def with_irsa(addons: Iterable[Addon]) -> tuple[Addon, ...]:
    return tuple(addon for addon in addons if addon.irsa is not None)


def install_order(addons: Iterable[Addon]) -> tuple[HelmAddonProps, ...]:
    """The charts of ``addons``, each after the charts it depends on (ties by name). A
    dependency that is not among them is left for check_dependencies to name."""
    charts = {addon.name: addon.chart for addon in addons if addon.chart is not None}
    ordered: list[HelmAddonProps] = []
    placed: set[str] = set()

    def place(name: str, path: tuple[str, ...]) -> None:
        if name in placed or name not in charts:
            return
        if name in path:
            raise ConfigError(f"addons.{name}.depends_on", " -> ".join((*path, name)), "is a dependency cycle",
                              "drop one of the dependencies")
        for dependency in charts[name].depends_on:
            place(dependency, (*path, name))
        placed.add(name)
        ordered.append(charts[name])

    for name in sorted(charts):
        place(name, ())
    return tuple(ordered)


def role_suffixes() -> tuple[str, ...]:
    return tuple(addon.irsa.role_suffix for addon in with_irsa(registry().values()))


def longest_role_suffix() -> str:
    """``-<suffix>`` of the add-on role with the longest name: what the cluster name leaves
    to IAM's 64-character limit (config/validate.py)."""
    return "-" + max(role_suffixes(), key=len)


def eks_managed_names() -> tuple[str, ...]:
    """The EKS add-on names, for asking EKS that each has a default version (make check-versions)."""
    return tuple(sorted(addon.install.addon_name for addon in registry().values() if isinstance(addon.install, EksManaged)))
