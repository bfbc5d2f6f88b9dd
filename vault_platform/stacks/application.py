"""An application stack, one per ``[[application_clusters]]`` table: its own VPC and EKS
cluster, peered to tooling only (hub and spoke: no route to another application VPC), the
private zone shared with it, its API open to Vault's TokenReview, and, in the one cluster
that has it, the demo app's PostgreSQL (seed 001 §5). It reaches Vault through Vault's NLB on 8200 (flux/, vault_platform/flows/). Reads the tooling stack by cross-stack reference, so it deploys after it."""

from __future__ import annotations

from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from vault_platform.config.model import ApplicationConfig, DatabaseConfig, EnvironmentConfig
from vault_platform.constructs.dns import associate_zone
from vault_platform.constructs.kms import KmsKey
from vault_platform.constructs.peering import VpcPeering, VpcPeeringProps
from vault_platform.constructs.policy import allow, policy_document
from vault_platform.constructs.rds import Postgres, PostgresProps
from vault_platform.stacks.base import PlatformStack, cluster_addon_roles, cluster_foundation, plain_key
from vault_platform.stacks.tooling import ToolingStack

KUBERNETES_API_PORT = 443


class ApplicationStack(PlatformStack):
    def __init__(self, scope: Construct, stack_id: str, env: EnvironmentConfig, *, config: ApplicationConfig,
                 tooling: ToolingStack) -> None:
        super().__init__(scope, stack_id, env)
        self.config = config
        account = self.account
        self.cluster_name = env.cluster_name(config.cluster)
        name = self.cluster_name

        foundation = cluster_foundation(self, name, config.network, config.cluster)
        self.logs_key, self.ebs_key, self.secrets_key = foundation.logs_key, foundation.ebs_key, foundation.secrets_key
        self.vpc, self.cluster = foundation.vpc, foundation.cluster
        self.database_key = (plain_key(self, "database-key", f"{name}/database", "PostgreSQL storage, backups and master secret", account)
                             if config.database is not None else None)
        self.addon_roles = cluster_addon_roles(self.cluster, account, tooling.zone.zone.arn, env.name)

        self.peering = VpcPeering(self, "peering", VpcPeeringProps(
            name=f"{name}-to-{tooling.cluster_name}",
            requester_vpc_id=self.vpc.vpc_id, requester_cidr=config.network.cidr,
            requester_route_table_ids=self.vpc.private_route_table_ids,
            accepter_vpc_id=tooling.vpc.vpc_id, accepter_cidr=env.tooling.network.cidr,
            accepter_route_table_ids=tooling.vpc.private_route_table_ids,
        ))
        associate_zone(self, "private-zone-association", zone_id=tooling.zone.zone_id, vpc_id=self.vpc.vpc_id)

        # Vault's Kubernetes auth reviews this cluster's service-account tokens (TokenReview)
        # from the Vault pods, which carry the tooling cluster's group, across the peering.
        # Vault itself is reached through its NLB, whose own security group the load
        # balancer controller makes (flux/infrastructure/vault/service-nlb.yaml): no 8200
        # rule on the tooling cluster's group is needed (vault_platform/flows/).
        VpcSecurityGroupIngressRule(
            self, "kubernetes-api-from-vault", security_group_id=self.cluster.cluster_security_group_id,
            ip_protocol="tcp", from_port=KUBERNETES_API_PORT, to_port=KUBERNETES_API_PORT,
            referenced_security_group_id=tooling.cluster.cluster_security_group_id,
            description="EKS API from Vault (TokenReview of the Kubernetes auth)",
        )

        self.database: Postgres | None = None
        if config.database is not None and self.database_key is not None:
            self._database(config.database, self.database_key, tooling)
        self._outputs()

    def _database(self, database: DatabaseConfig, key: KmsKey, tooling: ToolingStack) -> None:
        name, env = self.cluster_name, self.env
        self.database = Postgres(self, "database", PostgresProps(
            name=f"{name}-demo", database=database, vpc_id=self.vpc.vpc_id,
            subnet_ids=self.vpc.private_subnet_ids, kms_key_arn=key.arn,
            clients=(
                ("application-cluster", self.cluster.cluster_security_group_id),
                # Vault's database engine connects from the tooling cluster, across the peering.
                ("vault", tooling.cluster.cluster_security_group_id),
            ),
        ))
        # Vault's database engine starts from the RDS-managed master secret, which the
        # tooling cluster's External Secrets role may read: this one secret, nothing else.
        IamRolePolicy(
            self, "external-secrets-reads-database-master-secret", name=f"{name}-database-master-secret",
            role=tooling.addon_roles.external_secrets.role.id,
            policy=policy_document([
                allow(["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], [self.database.master_secret_arn]),
                allow(["kms:Decrypt"], [key.arn],
                      Condition={"StringEquals": {"kms:ViaService": f"secretsmanager.{env.region}.amazonaws.com"}}),
            ]),
        )

    def _outputs(self) -> None:
        cluster, roles = self.cluster, self.addon_roles
        self.output("cluster_name", cluster.cluster_name, "EKS name of the application cluster")
        self.output("cluster_endpoint", cluster.endpoint, "API endpoint of the application cluster")
        self.output("cluster_certificate_authority", cluster.certificate_authority_data, "Base64 CA of the application cluster API")
        self.output("cluster_security_group_id", cluster.cluster_security_group_id, "Security group of the application cluster's nodes and pods")
        self.output("oidc_provider_arn", cluster.oidc_provider_arn, "IAM OIDC provider of the application cluster (IRSA)")
        self.output("vpc_id", self.vpc.vpc_id, "Application VPC")
        self.output("vpc_cidr", self.vpc.cidr, "Application VPC range")
        self.output("private_subnet_ids", self.vpc.private_subnet_ids, "Private subnets, one per zone")
        self.output("peering_connection_id", self.peering.connection_id, "Peering to the tooling VPC")
        self.output("ebs_kms_key_arn", self.ebs_key.arn, "KMS key of the cluster's EBS volumes")
        self.output("load_balancer_controller_role_arn", roles.load_balancer_controller.arn, "IRSA role of kube-system/aws-load-balancer-controller")
        self.output("external_dns_role_arn", roles.external_dns.arn, "IRSA role of kube-system/external-dns")
        self.output("external_secrets_role_arn", roles.external_secrets.arn, "IRSA role of external-secrets/external-secrets")
        if self.database is None:
            return
        self.output("database_address", self.database.address, "Host name of the demo PostgreSQL")
        self.output("database_port", self.database.port, "Port of the demo PostgreSQL")
        self.output("database_name", self.database.database_name, "Database of the demo app")
        self.output("database_master_secret_arn", self.database.master_secret_arn, "RDS-managed master secret (Secrets Manager) for Vault's database engine")
