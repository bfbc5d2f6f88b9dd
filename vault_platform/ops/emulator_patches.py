"""Corrections to moto made inside the emulator's own server process, so that it behaves as
AWS documents where this project depends on it. Each one is listed, with its reason, in
``emulator_gaps.PATCHED_ON_EMULATOR``; nothing outside ``python -m vault_platform.ops.emulator``
is changed. Applied in the server process before it serves its first request.
"""

from __future__ import annotations

import typing

# What EKS writes into the description of the group it creates (seen on AWS; not a contract).
CLUSTER_SECURITY_GROUP_DESCRIPTION = ("EKS created security group applied to ENI that is attached to EKS Control Plane "
                                      "master nodes, as well as any managed workloads.")


def cluster_security_group_name(cluster_name: str, unique_id: str) -> str:
    """``eks-cluster-sg-<cluster>-<uniqueID>``, as EKS names it (Amazon EKS User Guide,
    "View Amazon EKS security group requirements for clusters", default cluster security group)."""
    return f"eks-cluster-sg-{cluster_name}-{unique_id}"


def cluster_security_group_tags(cluster_name: str, group_name: str) -> dict[str, str]:
    """The tags EKS puts on the group (same page) plus the Name tag the console shows."""
    return {f"kubernetes.io/cluster/{cluster_name}": "owned", "aws:eks:cluster-name": cluster_name, "Name": group_name}


def own_oidc_issuer_per_cluster() -> None:
    """moto 5.2.5 draws the issuer id once per process, so a second cluster (application
    after tooling) gets the first one's issuer and its IAM OIDC provider fails with
    EntityAlreadyExists. AWS gives each cluster its own; so does this."""
    from moto.eks import models
    from moto.moto_api._internal import mock_random

    original_init = models.Cluster.__init__

    def init_with_own_issuer(cluster: typing.Any, *args: object, **kwargs: object) -> None:
        original_init(cluster, *args, **kwargs)
        issuer = cluster.identity["oidc"]["issuer"]
        cluster.identity = {"oidc": {"issuer": issuer.rsplit("/", 1)[0] + "/" + mock_random.get_random_string(length=32)}}

    models.Cluster.__init__ = init_with_own_issuer  # type: ignore[method-assign]


def cluster_security_group_per_cluster() -> None:
    """EKS creates a security group for every cluster, in the cluster's VPC, and returns it as
    ``resourcesVpcConfig.clusterSecurityGroupId`` (with the ``vpcId``); moto 5.2.5 creates none,
    so every rule on or from it failed with InvalidGroup.NotFound. Here each cluster gets one,
    as the EKS User Guide describes it: named ``eks-cluster-sg-<name>-<id>``, tagged, with an
    inbound all-traffic rule from itself (the outbound all-traffic rule to 0.0.0.0/0 is the
    default every new group gets, in moto as on AWS). Deleting the cluster deletes it."""
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models import ec2_backends
    from moto.eks import models
    from moto.moto_api._internal import mock_random

    original_create = models.EKSBackend.create_cluster
    original_update = models.EKSBackend.update_cluster_config
    original_delete = models.EKSBackend.delete_cluster

    def create_with_group(backend: typing.Any, *args: object, **kwargs: typing.Any) -> typing.Any:
        cluster = original_create(backend, *args, **kwargs)
        ec2 = ec2_backends[backend.account_id][backend.region_name]
        vpc_config = dict(cluster.resources_vpc_config or {})
        subnet_ids = vpc_config.get("subnetIds") or []
        vpc_id = ec2.get_subnet(subnet_ids[0]).vpc_id if subnet_ids else ec2.default_vpc.id
        name = cluster_security_group_name(cluster.name, str(mock_random.randint(10**9, 10**10 - 1)))
        group = ec2.create_security_group(name, CLUSTER_SECURITY_GROUP_DESCRIPTION, vpc_id=vpc_id,
                                          tags=cluster_security_group_tags(cluster.name, name))
        ec2.authorize_security_group_ingress(group.id, "-1", None, None, [], source_groups=[{"GroupId": group.id}],
                                             vpc_id=vpc_id)
        cluster.resources_vpc_config = {**vpc_config, "clusterSecurityGroupId": group.id, "vpcId": vpc_id}
        return cluster

    def update_keeping_group(backend: typing.Any, name: str, resources_vpc_config: dict | None = None,
                             **kwargs: typing.Any) -> typing.Any:
        # An update names only what it changes; the group EKS made stays the cluster's.
        cluster = backend.clusters.get(name)
        made_by_eks = {k: v for k, v in (cluster.resources_vpc_config or {}).items()
                       if k in ("clusterSecurityGroupId", "vpcId")} if cluster else {}
        updated = original_update(backend, name, resources_vpc_config, **kwargs)
        if updated is not None and made_by_eks:
            updated.resources_vpc_config = {**(updated.resources_vpc_config or {}), **made_by_eks}
        return updated

    def delete_with_group(backend: typing.Any, name: str) -> typing.Any:
        cluster = original_delete(backend, name)
        group_id = (cluster.resources_vpc_config or {}).get("clusterSecurityGroupId")
        if group_id:
            try:
                ec2_backends[backend.account_id][backend.region_name].delete_security_group(group_id=group_id)
            except EC2ClientError:
                pass  # still referenced (DependencyViolation): EKS leaves such a group behind too
        return cluster

    models.EKSBackend.create_cluster = create_with_group  # type: ignore[method-assign]
    models.EKSBackend.update_cluster_config = update_keeping_group  # type: ignore[method-assign]
    models.EKSBackend.delete_cluster = delete_with_group  # type: ignore[method-assign]


def description_of_rules_that_reference_a_group() -> None:
    """moto 5.2.5 stores the description of a rule that references another security group
    (``UserIdGroupPairs[].Description``) but answers DescribeSecurityGroupRules with the
    description of CIDR rules only, so every such rule (all rules on or from an EKS cluster
    security group) showed an ``update of description`` on every plan. AWS returns it."""
    from moto.ec2.models import security_groups

    def description(rule: typing.Any) -> str | None:
        return rule.ip_range.get("Description") or rule.source_group.get("Description")

    security_groups.SecurityGroupRule.description = property(description)  # type: ignore[assignment]


def apply_all() -> None:
    own_oidc_issuer_per_cluster()
    cluster_security_group_per_cluster()
    description_of_rules_that_reference_a_group()
