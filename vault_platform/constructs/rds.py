"""The application's PostgreSQL: private, encrypted at rest and in transit, Multi-AZ
switchable, deletion-protected, its master password generated and kept by RDS in Secrets
Manager (never in Terraform state), and reachable only from named security groups (seed
003: "securitygroups as identity", not IP ranges)."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf_cdktf_provider_aws.db_instance import DbInstance
from cdktf_cdktf_provider_aws.db_parameter_group import DbParameterGroup, DbParameterGroupParameter
from cdktf_cdktf_provider_aws.db_subnet_group import DbSubnetGroup
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from vault_platform.config.model import DatabaseConfig
from vault_platform.constructs.protection import destroy_allowed, protected_lifecycle

POSTGRES_PORT = 5432

# Policy-gate findings accepted for resources created here (vault_platform/ops/policy_gate.py).
CHECKOV_SUPPRESSIONS = {
    ("CKV_AWS_118", "aws_db_instance", "instance"):
        "Enhanced Monitoring needs a monitoring IAM role and is not set up yet; Performance Insights "
        "(encrypted with the database key) and the postgresql/upgrade log exports cover the demo database",
}


@dataclass(frozen=True)
class PostgresProps:
    """clients: (label, security group id) pairs allowed to connect on 5432; nothing else is.
    rules_after: what the client rules wait for: the peering that must be active before a rule
    may reference a group of the peer VPC (flows/creation_order.py)."""

    name: str
    database: DatabaseConfig
    vpc_id: str
    subnet_ids: list[str]
    kms_key_arn: str
    clients: tuple[tuple[str, str], ...]
    rules_after: tuple[object, ...] = ()


class Postgres(Construct):
    def __init__(self, scope: Construct, id: str, props: PostgresProps) -> None:
        super().__init__(scope, id)
        db = props.database
        subnet_group = DbSubnetGroup(self, "subnet-group", name=props.name, subnet_ids=props.subnet_ids,
                                     description="Private subnets of the application VPC")
        self.security_group = SecurityGroup(
            self, "security-group", name=f"{props.name}-postgres", vpc_id=props.vpc_id,
            description="PostgreSQL from named client security groups only", tags={"Name": f"{props.name}-postgres"},
        )
        security_group_id = self.security_group.id
        for label, group_id in props.clients:
            VpcSecurityGroupIngressRule(
                self, f"from-{label}", security_group_id=security_group_id, ip_protocol="tcp",
                from_port=POSTGRES_PORT, to_port=POSTGRES_PORT, referenced_security_group_id=group_id,
                description=f"PostgreSQL from {label}", depends_on=list(props.rules_after) or None,
            )
        major = db.engine_version  # config/validate.py: the major version only
        parameters = DbParameterGroup(
            self, "parameters", name=f"{props.name}-postgres{major}", family=f"postgres{major}",
            description="TLS required for every connection",
            parameter=[DbParameterGroupParameter(name="rds.force_ssl", value="1")],
        )
        self.instance = DbInstance(
            self, "instance",
            identifier=props.name,
            engine="postgres",
            engine_version=db.engine_version,
            instance_class=db.instance_class,
            allocated_storage=db.allocated_storage_gib,
            max_allocated_storage=db.max_allocated_storage_gib,
            storage_type="gp3",
            storage_encrypted=True,
            kms_key_id=props.kms_key_arn,
            db_name=db.database_name,
            username=db.master_username,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=props.kms_key_arn,
            multi_az=db.multi_az,
            db_subnet_group_name=subnet_group.name,
            vpc_security_group_ids=[security_group_id],
            parameter_group_name=parameters.name,
            publicly_accessible=False,
            port=POSTGRES_PORT,
            iam_database_authentication_enabled=True,
            backup_retention_period=db.backup_retention_days,
            copy_tags_to_snapshot=True,
            deletion_protection=not destroy_allowed(self),
            skip_final_snapshot=False,
            final_snapshot_identifier=f"{props.name}-final",
            # With the major version pinned, AWS's minor upgrades are no drift to undo.
            auto_minor_version_upgrade=True,
            enabled_cloudwatch_logs_exports=["postgresql", "upgrade"],
            performance_insights_enabled=True,
            performance_insights_kms_key_id=props.kms_key_arn,
            lifecycle=protected_lifecycle(self),
        )
        self.address = self.instance.address
        self.port = self.instance.port
        self.database_name = db.database_name
        self.master_secret_arn = self.instance.master_user_secret.get(0).secret_arn
