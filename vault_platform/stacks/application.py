"""An application stack, one per ``[[application_clusters]]`` table: its own VPC and EKS
cluster, peered to tooling only (hub and spoke: no route to another application VPC), the
private zone shared with it, its API open to Vault's TokenReview, and, in the one cluster
that has it, the demo app's PostgreSQL (seed 001 §5). It reaches Vault through Vault's NLB on 8200 (flux/, vault_platform/flows/). Reads the tooling stack by cross-stack reference, so it deploys after it."""

from __future__ import annotations

from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from vault_platform.cluster_roles import APPLICATION
from vault_platform.config.model import ApplicationConfig, DatabaseConfig, EnvironmentConfig
from vault_platform.constructs.dns import associate_zone
from vault_platform.constructs.kms import KmsKey, KmsKeyProps
from vault_platform.constructs.peering import VpcPeering, VpcPeeringProps
from vault_platform.constructs.rds import Postgres, PostgresProps
from vault_platform.stacks.addon_roles import build_addons, output_roles
from vault_platform.stacks.base import PlatformStack, cluster_foundation, demo_database_identifier
from vault_platform.stacks.tooling import ToolingStack

KUBERNETES_API_PORT = 443

class ApplicationStack(PlatformStack):
    def __init__(self, scope: Construct, stack_id: str, env: EnvironmentConfig, *, config: ApplicationConfig,
                 tooling: ToolingStack) -> None:
        super().__init__(scope, stack_id, env)
        self.config = config
        self.cluster_name = env.cluster_name(config.cluster)
        name = self.cluster_name

        foundation = cluster_foundation(self, name, config.network, config.cluster)
        self.logs_key, self.ebs_key, self.secrets_key = foundation.logs_key, foundation.ebs_key, foundation.secrets_key
        self.vpc, self.cluster = foundation.vpc, foundation.cluster
        # Only the cluster with the demo database has its key (a KMS key is billed monthly
        # and protected from destroy: one that encrypts nothing would outlive its reason).
        self.database_key = self._database_key(name) if config.database is not None else None
        self.addon_roles = build_addons(self, foundation, APPLICATION, zone_arn=tooling.zone.zone.arn,
                                        pinned=config.cluster.addon_versions)

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
            # EC2 accepts a rule naming a peer VPC's group only once the peering is active
            # (flows/creation_order.py, "peered-security-group-reference").
            depends_on=[self.peering.connection],
        )

        self.database: Postgres | None = None
        if config.database is not None and self.database_key is not None:
            self._database(config.database, self.database_key, tooling)
        self._outputs()

    def _database(self, database: DatabaseConfig, key: KmsKey, tooling: ToolingStack) -> None:
        name = self.cluster_name
        self.database = Postgres(self, "database", PostgresProps(
            name=demo_database_identifier(name), database=database, vpc_id=self.vpc.vpc_id,
            subnet_ids=self.vpc.private_subnet_ids, kms_key_arn=key.arn,
            clients=(
                ("application-cluster", self.cluster.cluster_security_group_id),
                # Vault's database engine connects from the tooling cluster, across the peering.
                ("vault", tooling.cluster.cluster_security_group_id),
            ),
            rules_after=(self.peering.connection,),
        ))

    def _database_key(self, name: str) -> KmsKey:
        """The key of the database's storage, backups and RDS-managed master secret. Its
        policy is the account's only: no role reads the master secret through a standing
        grant (the operator hands it to Vault once, README "Vault's database engine")."""
        account = self.account
        return KmsKey(self, "database-key", KmsKeyProps(
            alias=f"{name}/database", description="PostgreSQL storage, backups and master secret",
            account_id=account.account_id, partition=account.partition,
        ))

    def _outputs(self) -> None:
        cluster = self.cluster
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
        output_roles(self, self.addon_roles)
        if self.database is None:
            return
        self.output("database_address", self.database.address, "Host name of the demo PostgreSQL")
        self.output("database_port", self.database.port, "Port of the demo PostgreSQL")
        self.output("database_name", self.database.database_name, "Database of the demo app")
        self.output("database_master_secret_arn", self.database.master_secret_arn, "RDS-managed master secret (Secrets Manager) for Vault's database engine")
