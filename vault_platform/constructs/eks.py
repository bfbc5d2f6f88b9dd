"""An EKS cluster as this platform runs it: private API endpoint, secrets envelope-encrypted
with a customer key, all control-plane logs kept, access entries (not aws-auth), an IAM
OIDC provider for IRSA, managed node groups on encrypted volumes; its add-ons and their
roles come from the add-on registry (``managed_addon``, ``irsa_role``).
"""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import Fn
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.eks_access_entry import EksAccessEntry
from cdktf_cdktf_provider_aws.eks_access_policy_association import (
    EksAccessPolicyAssociation,
    EksAccessPolicyAssociationAccessScope,
)
from cdktf_cdktf_provider_aws.data_aws_eks_addon_version import DataAwsEksAddonVersion
from cdktf_cdktf_provider_aws.eks_addon import EksAddon
from cdktf_cdktf_provider_aws.eks_cluster import (
    EksCluster as EksClusterResource,
)
from cdktf_cdktf_provider_aws.eks_cluster import (
    EksClusterAccessConfig,
    EksClusterEncryptionConfig,
    EksClusterEncryptionConfigProvider,
    EksClusterVpcConfig,
)
from cdktf_cdktf_provider_aws.eks_node_group import (
    EksNodeGroup,
    EksNodeGroupLaunchTemplate,
    EksNodeGroupScalingConfig,
    EksNodeGroupUpdateConfig,
)
from cdktf_cdktf_provider_aws.iam_openid_connect_provider import IamOpenidConnectProvider
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.launch_template import (
    LaunchTemplate,
    LaunchTemplateBlockDeviceMappings,
    LaunchTemplateBlockDeviceMappingsEbs,
    LaunchTemplateMetadataOptions,
    LaunchTemplateTagSpecifications,
)
from constructs import Construct

from vault_platform.config.model import ClusterConfig, NodeGroupConfig, principal_key
from vault_platform.constructs.addresses import moved_from, path_below_stack, stack_of
from vault_platform.constructs.iam import IrsaRole, IrsaRoleProps
from vault_platform.constructs.policy import allow, policy_document, service_assume_role_policy

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")

# Policy-gate findings accepted for resources created here (vault_platform/ops/policy_gate.py).
CHECKOV_SUPPRESSIONS = {
    ("CKV_AWS_338", "aws_cloudwatch_log_group", "control-plane-logs"):
        "retention is the environment's decision (cluster.log_retention_days, default 90 days); "
        "set 365 or more where a year of control-plane audit logs is required",
}


@dataclass(frozen=True)
class EksClusterProps:
    """name: the cluster's AWS name (``<environment>-<cluster>``). cluster: its version,
    public endpoint (empty public_access_cidrs: private-only, via VPN), node groups, admins
    (by access entry, in addition to the identity that creates the cluster) and log
    retention. secrets_kms_key_arn: envelope encryption of Kubernetes Secrets.
    ebs_kms_key_arn: node root volumes and the EBS CSI driver's grants."""

    name: str
    cluster: ClusterConfig
    subnet_ids: list[str]
    secrets_kms_key_arn: str
    ebs_kms_key_arn: str
    log_kms_key_arn: str
    partition: str
    region: str
    account_id: str  # literal or caller-identity token: the cluster role's confused-deputy condition


def _managed_policy(partition: str, name: str) -> str:
    return f"arn:{partition}:iam::aws:policy/{name}"


class EksCluster(Construct):
    def __init__(self, scope: Construct, id: str, props: EksClusterProps) -> None:
        super().__init__(scope, id)
        self.path_below_stack = path_below_stack(scope, id)
        self.stack = stack_of(scope)
        self.name = props.name
        self._partition = props.partition

        # Created before the cluster so EKS writes into a group that is encrypted and has a
        # retention period, instead of creating an unencrypted one that never expires.
        log_group = CloudwatchLogGroup(
            self, "control-plane-logs", name=f"/aws/eks/{props.name}/cluster",
            retention_in_days=props.cluster.log_retention_days, kms_key_id=props.log_kms_key_arn,
        )

        # Only EKS acting for this cluster of this account may assume it (confused deputy).
        cluster_role = IamRole(self, "cluster-role", name=f"{props.name}-cluster",
                               assume_role_policy=service_assume_role_policy(
                                   "eks.amazonaws.com", source_account=props.account_id,
                                   source_arn=f"arn:{props.partition}:eks:{props.region}:{props.account_id}:cluster/{props.name}"))
        cluster_policy = IamRolePolicyAttachment(self, "cluster-role-policy", role=cluster_role.name,
                                                 policy_arn=_managed_policy(props.partition, "AmazonEKSClusterPolicy"))
        # Envelope encryption: the managed policy does not cover customer keys.
        secrets_key_policy = IamRolePolicy(
            self, "cluster-role-secrets-key", name="envelope-encryption", role=cluster_role.id,
            policy=policy_document([allow(["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"],
                                          [props.secrets_kms_key_arn])]),
        )

        public = bool(props.cluster.public_access_cidrs)
        self.cluster = EksClusterResource(
            self, "cluster",
            name=props.name,
            version=props.cluster.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config=EksClusterVpcConfig(
                subnet_ids=props.subnet_ids,
                endpoint_private_access=True,
                endpoint_public_access=public,
                public_access_cidrs=list(props.cluster.public_access_cidrs) if public else None,
            ),
            encryption_config=EksClusterEncryptionConfig(
                provider=EksClusterEncryptionConfigProvider(key_arn=props.secrets_kms_key_arn),
                resources=["secrets"],
            ),
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            # API mode: access entries only, the aws-auth ConfigMap is ignored. The identity
            # that runs `cdktf deploy` keeps admin so the platform stack can install charts.
            access_config=EksClusterAccessConfig(
                authentication_mode="API", bootstrap_cluster_creator_admin_permissions=True,
            ),
            depends_on=[log_group, cluster_policy, secrets_key_policy],
        )
        # The cluster's name as a reference (self.name is the plain string), so what uses it
        # waits for the cluster. Read once: each read is a round trip to the jsii runtime.
        self.cluster_name = self.cluster.name
        # The control plane's version as a reference, read once: node groups and add-ons follow it.
        self.kubernetes_version = self.cluster.version
        self.endpoint = self.cluster.endpoint
        self.certificate_authority_data = self.cluster.certificate_authority.get(0).data
        self.cluster_security_group_id = self.cluster.vpc_config.cluster_security_group_id
        issuer = self.cluster.identity.get(0).oidc.get(0).issuer

        self.oidc_provider = IamOpenidConnectProvider(self, "oidc-provider", url=issuer, client_id_list=["sts.amazonaws.com"])
        self.oidc_provider_arn = self.oidc_provider.arn
        self.oidc_issuer_host = Fn.replace(issuer, "https://", "")

        for index, principal in enumerate(props.cluster.admin_principal_arns):
            # Keyed by the principal (config/model.py principal_key), so removing one admin
            # does not re-create the others; earlier versions keyed it by list position, hence the moves.
            key = f"admin-{principal_key(principal)}"
            entry = EksAccessEntry(self, key, cluster_name=self.cluster_name, principal_arn=principal, type="STANDARD")
            moved_from(entry, f"admin-{index}", new_id=key, parent_path=self.path_below_stack, stack=self.stack)
            association = EksAccessPolicyAssociation(
                self, f"{key}-policy", cluster_name=self.cluster_name, principal_arn=entry.principal_arn,
                policy_arn=f"arn:{props.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                access_scope=EksAccessPolicyAssociationAccessScope(type="cluster"),
            )
            moved_from(association, f"admin-{index}-policy", new_id=f"{key}-policy", parent_path=self.path_below_stack,
                       stack=self.stack)

        self.node_role, self._node_role_grants = self._node_role(props)
        self.node_groups = [self._node_group(props, group) for group in props.cluster.node_groups]

    def irsa_role(self, id: str, *, role_suffix: str, namespace: str, service_account: str,
                  statements: tuple = (), managed_policies: tuple[str, ...] = ()) -> IrsaRole:
        """An IRSA role of this cluster, named ``<cluster>-<role_suffix>``."""
        return IrsaRole(self, id, IrsaRoleProps(
            role_name=f"{self.name}-{role_suffix}",
            oidc_provider_arn=self.oidc_provider_arn,
            oidc_issuer_host=self.oidc_issuer_host,
            namespace=namespace,
            service_account=service_account,
            statements=statements,
            managed_policy_arns=tuple(_managed_policy(self._partition, name) for name in managed_policies),
        ))

    def _node_role(self, props: EksClusterProps) -> tuple[IamRole, list[IamRolePolicyAttachment]]:
        # No source condition: EC2 documents none for instance profiles (policy.py
        # SOURCE_CONDITIONS_NOT_DOCUMENTED says why that is safe).
        role = IamRole(self, "node-role", name=f"{props.name}-node",
                       assume_role_policy=service_assume_role_policy("ec2.amazonaws.com"))
        # The CNI policy is not here: vpc-cni gets it through its own IRSA role below.
        # Keyed by the policy's name; earlier versions keyed it by its position here, hence the moves.
        attachments = []
        for index, name in enumerate(("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly")):
            attachment = IamRolePolicyAttachment(self, f"node-role-policy-{name}", role=role.name,
                                                 policy_arn=_managed_policy(props.partition, name))
            moved_from(attachment, f"node-role-policy-{index}", new_id=f"node-role-policy-{name}",
                       parent_path=self.path_below_stack, stack=self.stack)
            attachments.append(attachment)
        return role, attachments

    def _node_group(self, props: EksClusterProps, group: NodeGroupConfig) -> EksNodeGroup:
        template = LaunchTemplate(
            self, f"{group.name}-launch-template",
            name=f"{props.name}-{group.name}",
            update_default_version=True,
            block_device_mappings=[LaunchTemplateBlockDeviceMappings(
                device_name="/dev/xvda",
                ebs=LaunchTemplateBlockDeviceMappingsEbs(
                    volume_size=group.disk_size_gib, volume_type="gp3", encrypted="true",
                    kms_key_id=props.ebs_kms_key_arn, delete_on_termination="true",
                ),
            )],
            # IMDSv2 only, and a hop limit of 1 so pods cannot reach the node's instance
            # metadata (and its role); pods get AWS access through IRSA instead.
            metadata_options=LaunchTemplateMetadataOptions(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1,
            ),
            tag_specifications=[LaunchTemplateTagSpecifications(
                resource_type="instance", tags={"Name": f"{props.name}-{group.name}"},
            )],
        )
        return EksNodeGroup(
            self, f"{group.name}-node-group",
            cluster_name=self.cluster_name,
            node_group_name=group.name,
            # The control plane's version, by reference: a kubernetes_version bump updates the
            # control plane first, then the nodes, in place (EKS refuses the next bump while
            # node groups lag behind; the AMI follows, the launch template names none).
            version=self.kubernetes_version,
            node_role_arn=self.node_role.arn,
            subnet_ids=props.subnet_ids,
            instance_types=list(group.instance_types),
            capacity_type=group.capacity_type,
            labels=dict(group.labels) or None,
            scaling_config=EksNodeGroupScalingConfig(
                min_size=group.min_size, max_size=group.max_size, desired_size=group.desired_size,
            ),
            update_config=EksNodeGroupUpdateConfig(max_unavailable=1),
            launch_template=EksNodeGroupLaunchTemplate(id=template.id, version=Fn.tostring(template.latest_version)),
            # Nodes boot with the role's policies, or they cannot join (and EKS needs them to
            # clean up on delete): the role's ARN alone lets Terraform attach them in parallel
            # (flows/creation_order.py, "service-role-permissions").
            depends_on=self._node_role_grants,
        )

    def managed_addon(self, name: str, *, role_arn: str | None = None, needs_nodes: bool = False,
                      version: str | None = None) -> EksAddon:
        """An EKS add-on at ``version`` (the environment's pin), else at the version EKS
        recommends for the cluster's Kubernetes version, read at plan time
        (aws_eks_addon_version, most_recent false: DescribeAddonVersions' defaultVersion). Its
        kubernetes_version is the control plane's, by reference: a kubernetes_version bump
        updates the control plane first, then the add-on, in place (EKS upgrade order).
        needs_nodes: a Deployment, created after the node groups. Which add-ons a cluster
        gets is the registry's (vault_platform/addons/)."""
        if version is None:
            version = DataAwsEksAddonVersion(
                self, f"addon-{name}-version", addon_name=name, kubernetes_version=self.kubernetes_version,
                most_recent=False,
            ).version
        return EksAddon(
            self, f"addon-{name}", cluster_name=self.cluster_name, addon_name=name, addon_version=version,
            service_account_role_arn=role_arn,
            resolve_conflicts_on_create="OVERWRITE", resolve_conflicts_on_update="OVERWRITE",
            depends_on=self.node_groups if needs_nodes else None,
        )
