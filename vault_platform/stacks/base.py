"""What every AWS stack of an environment shares: provider, backend, account, and the keys,
VPC and EKS cluster each cluster stack builds the same way. Kept here so the cluster stacks
differ only in what really differs between them (their add-ons: stacks/addon_roles.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from cdktf import Fn, Postcondition, TerraformOutput, TerraformResourceLifecycle, TerraformStack, Token
from cdktf_cdktf_provider_aws.data_aws_availability_zones import (
    DataAwsAvailabilityZones,
    DataAwsAvailabilityZonesFilter,
)
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderAssumeRole, AwsProviderDefaultTags
from constructs import Construct

from vault_platform.config.model import ClusterConfig, EnvironmentConfig, NetworkConfig
from vault_platform.config.regions import EKS_UNSUPPORTED_ZONE_IDS
from vault_platform.constructs.eks import EksCluster, EksClusterProps
from vault_platform.constructs.kms import KmsKey, KmsKeyProps
from vault_platform.constructs.vpc import Vpc, VpcProps
from vault_platform.state_backend import session_name, state_backend

PARTITION = "aws"  # the commercial partition; an environment's comes from its region (config/regions.py)

# Policy-gate findings accepted for what is created here (vault_platform/ops/policy_gate.py).
CHECKOV_SUPPRESSIONS = {
    ("CKV_AWS_394", "data", "zones"):
        "the stacks take the first availability_zone_count of AWS's zone names, sorted, by position: a zone AWS adds "
        "later (the next letter) sorts after them and changes nothing; a file that must not depend even on that pins "
        "its zones (environment file, zones: names or zone IDs), which replaces this data source",
}

# IAM lint findings accepted for the key policies written here (vault_platform/ops/iam_lint.py).
PARLIAMENT_ACCEPTED = {
    ("RESOURCE_STAR", "CloudWatchLogsOfThisAccount"): "in a key policy Resource '*' is the key itself",
    ("RESOURCE_STAR", "AutoScalingUsesKeyForNodeVolumes"): "in a key policy Resource '*' is the key itself",
    ("RESOURCE_STAR", "AutoScalingGrantsForAttachedVolumes"): "in a key policy Resource '*' is the key itself",
    ("MISMATCHED_TYPE", "CloudWatchLogsOfThisAccount"):
        "CloudWatch Logs' documented key policy (Logs user guide, encrypt-log-data-kms) matches the log group ARN "
        "in kms:EncryptionContext:aws:logs:arn with ArnLike; parliament types every encryption-context key as String",
}


@dataclass(frozen=True)
class AccountContext:
    region: str
    account_id: str  # literal when the environment names it, else a caller-identity token
    partition: str = PARTITION


class PlatformStack(TerraformStack):
    """A stack with the AWS provider configured from the environment, and its state backend
    (local, or the environment's S3 bucket: state_backend.py). local_state: keep local
    state even so (the bootstrap stack that creates the bucket); region: the provider's
    region when not the environment's."""

    def __init__(self, scope: Construct, stack_id: str, env: EnvironmentConfig, *,
                 local_state: bool = False, region: str | None = None) -> None:
        super().__init__(scope, stack_id)
        self.env = env
        state_backend(self, env, stack_id, local=local_state)
        region = region or env.region
        AwsProvider(
            self, "aws",
            region=region,
            allowed_account_ids=[env.account_id] if env.account_id else None,
            # Another account, reached from the operator's or CI's own credentials.
            assume_role=[AwsProviderAssumeRole(role_arn=env.assume_role_arn, session_name=session_name(env))]
            if env.assume_role_arn else None,
            default_tags=[AwsProviderDefaultTags(tags={**env.tags, "environment": env.name})],
        )
        account_id = env.account_id or DataAwsCallerIdentity(self, "caller").account_id
        self.account = AccountContext(region=region, account_id=account_id, partition=env.partition)

    def output(self, name: str, value: object, description: str, *, sensitive: bool = False) -> TerraformOutput:
        return TerraformOutput(self, name, value=value, description=description, sensitive=sensitive)


def logs_key(scope: Construct, id: str, alias: str, account: AccountContext) -> KmsKey:
    """Key for CloudWatch log groups (flow logs, EKS control-plane logs) of this account."""
    return KmsKey(scope, id, KmsKeyProps(
        alias=alias, description="CloudWatch Logs encryption", account_id=account.account_id, partition=account.partition,
        extra_statements=({
            "Sid": "CloudWatchLogsOfThisAccount",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{account.region}.amazonaws.com"},
            # No kms:Describe*: DescribeKey carries no encryption context, so under this
            # condition it would never be allowed (and DescribeCustomKeyStores is no key's).
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                      f"arn:{account.partition}:logs:{account.region}:{account.account_id}:log-group:*"}},
        },),
    ))


def ebs_key(scope: Construct, id: str, alias: str, account: AccountContext) -> KmsKey:
    """Key for node root volumes and EBS persistent volumes.

    Auto Scaling launches the managed nodes, so its service-linked role needs the key in
    the key policy (IAM policies cannot grant to a service-linked role; AWS EC2 Auto Scaling
    guide, "Required AWS KMS key policy for use with encrypted volumes"). A new account has
    no AWSServiceRoleForAutoScaling until its first Auto Scaling group, and KMS refuses a
    key policy naming a principal that does not exist (MalformedPolicyDocumentException),
    so the role is matched by aws:PrincipalArn under the principal "*" of this account (the
    pattern of AWS's own aws/ebs key policy): valid before the role exists, and it applies
    once EKS's node group creates the role. Creating the role here instead would fail on
    every account that already has it.
    """
    autoscaling = (f"arn:{account.partition}:iam::{account.account_id}:role/aws-service-role/"
                   "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling")
    only_autoscaling = {"StringEquals": {"kms:CallerAccount": account.account_id, "aws:PrincipalArn": autoscaling}}
    return KmsKey(scope, id, KmsKeyProps(
        alias=alias, description="EBS volumes of the EKS nodes and persistent volumes",
        account_id=account.account_id, partition=account.partition,
        extra_statements=(
            {"Sid": "AutoScalingUsesKeyForNodeVolumes", "Effect": "Allow", "Principal": {"AWS": "*"},
             "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
             "Resource": "*", "Condition": only_autoscaling},
            {"Sid": "AutoScalingGrantsForAttachedVolumes", "Effect": "Allow", "Principal": {"AWS": "*"},
             "Action": "kms:CreateGrant", "Resource": "*",
             "Condition": {**only_autoscaling, "Bool": {"kms:GrantIsForAWSResource": "true"}}},
        ),
    ))


def plain_key(scope: Construct, id: str, alias: str, description: str, account: AccountContext) -> KmsKey:
    """A key used only by principals the account's IAM policies name (roles, services via grants)."""
    return KmsKey(scope, id, KmsKeyProps(alias=alias, description=description, account_id=account.account_id,
                                         partition=account.partition))


@dataclass(frozen=True)
class ClusterFoundation:
    """What both cluster stacks build the same way: their keys, VPC and EKS cluster."""

    logs_key: KmsKey
    ebs_key: KmsKey
    secrets_key: KmsKey
    vpc: Vpc
    cluster: EksCluster


def availability_zones(stack: PlatformStack) -> tuple[tuple[str, ...], str]:
    """(one zone per availability_zone_count, the subnet attribute that takes it): the
    file's pinned names or zone IDs, else the first zones AWS lists at plan time for this
    account, of type availability-zone (no Local or Wavelength Zone, which are opt-in) and
    without the zone IDs EKS cannot use (config/regions.py). The data source refuses the plan
    when the region has fewer such zones than the file asks for."""
    env = stack.env
    if env.zones:
        by_id = all(re.fullmatch(r"[a-z]+[0-9]+-az[0-9]+", zone) for zone in env.zones)
        return tuple(env.zones), "availability_zone_id" if by_id else "availability_zone"
    count = env.availability_zone_count
    zones = DataAwsAvailabilityZones(
        stack, "zones", state="available", exclude_zone_ids=list(EKS_UNSUPPORTED_ZONE_IDS),
        filter=[DataAwsAvailabilityZonesFilter(name="zone-type", values=["availability-zone"])],
        lifecycle=TerraformResourceLifecycle(postcondition=[Postcondition(
            condition=f"${{length(self.names) >= {count}}}",
            error_message=f"{env.region} has fewer than availability_zone_count = {count} zones where EKS runs in this "
                          "account: lower availability_zone_count, or pin zones (environment file, zones)")]),
    )
    names = zones.names
    return tuple(Token.as_string(Fn.element(names, index)) for index in range(count)), "availability_zone"


def cluster_foundation(stack: PlatformStack, name: str, network: NetworkConfig, cluster: ClusterConfig) -> ClusterFoundation:
    """Keys, VPC and EKS cluster of one cluster stack, with fixed construct ids (so the
    Terraform addresses are the same in both stacks and across refactors)."""
    env, account = stack.env, stack.account
    logs = logs_key(stack, "logs-key", f"{name}/logs", account)
    ebs = ebs_key(stack, "ebs-key", f"{name}/ebs", account)
    secrets = plain_key(stack, "eks-secrets-key", f"{name}/eks-secrets", "EKS envelope encryption of Kubernetes Secrets", account)
    zones, zone_attribute = availability_zones(stack)
    vpc = Vpc(stack, "vpc", VpcProps(
        name=name, network=network, availability_zones=zones, zone_attribute=zone_attribute, region=env.region,
        cluster_name=name, flow_log_kms_key_arn=logs.arn, account_id=account.account_id, partition=account.partition,
    ))
    eks = EksCluster(stack, "eks", EksClusterProps(
        name=name, cluster=cluster, subnet_ids=vpc.private_subnet_ids,
        secrets_kms_key_arn=secrets.arn, ebs_kms_key_arn=ebs.arn, log_kms_key_arn=logs.arn,
        partition=account.partition, region=account.region, account_id=account.account_id,
    ))
    return ClusterFoundation(logs, ebs, secrets, vpc, eks)


def demo_database_identifier(cluster_name: str) -> str:
    """The RDS identifier of the demo PostgreSQL of the application cluster ``cluster_name``
    (its EKS name)."""
    return f"{cluster_name}-demo"
