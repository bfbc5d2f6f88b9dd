"""The add-ons of one cluster stack, built from the registry (vault_platform/addons/): an IRSA
role per add-on that declares an identity, the EKS-managed add-ons, and the role outputs.
Neither cluster stack lists an add-on: what runs where is each add-on's own declaration."""

from __future__ import annotations

from collections.abc import Mapping

from vault_platform.addons import EksManaged, PermissionContext, addons_for, registry
from vault_platform.constructs.iam import IrsaRole
from vault_platform.stacks.base import ClusterFoundation, PlatformStack


def build_addons(stack: PlatformStack, foundation: ClusterFoundation, cluster_role: str, *, zone_arn: str,
                 pinned: Mapping[str, str], **context: object) -> dict[str, IrsaRole]:
    """The IRSA roles (by add-on name) and EKS-managed add-ons of the add-ons that run on
    ``cluster_role`` with their feature on in the stack's environment. pinned: the cluster's
    add-on versions (ClusterConfig.addon_versions). ``context``: what
    only this stack has for their permissions (PermissionContext's optional fields)."""
    account, cluster = stack.account, foundation.cluster
    permissions = PermissionContext(
        cluster_name=cluster.name, environment=stack.env.name, partition=account.partition, region=account.region,
        account_id=account.account_id, ebs_kms_key_arn=foundation.ebs_key.arn, zone_arn=zone_arn, **context,
    )
    roles: dict[str, IrsaRole] = {}
    for addon in addons_for(cluster_role, stack.env):
        if addon.irsa is not None:
            roles[addon.name] = cluster.irsa_role(
                addon.irsa.construct_id, role_suffix=addon.irsa.role_suffix, namespace=addon.irsa.namespace,
                service_account=addon.irsa.service_account, statements=addon.statements(permissions),
                managed_policies=addon.managed_policies,
            )
        if isinstance(addon.install, EksManaged):
            role = roles.get(addon.name)
            cluster.managed_addon(addon.install.addon_name, role_arn=role.arn if role is not None else None,
                                  needs_nodes=addon.install.needs_nodes,
                                  version=pinned.get(addon.install.addon_name))
    return roles


def output_roles(stack: PlatformStack, roles: dict[str, IrsaRole]) -> None:
    """One output per role whose add-on declares one (the platform layer and operators read them)."""
    for name, role in sorted(roles.items()):
        addon = registry()[name]
        if addon.role_output is not None:
            note = f" {addon.role_output.note}" if addon.role_output.note else ""
            stack.output(addon.role_output.name, role.arn, f"IRSA role of {addon.irsa.subject}{note}")
