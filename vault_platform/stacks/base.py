"""What every AWS stack of an environment shares: provider, backend, account, and the keys,
VPC and EKS cluster each cluster stack builds the same way. Kept here so the cluster stacks
differ only in what really differs between them (their add-ons: stacks/addon_roles.py)."""

from __future__ import annotations

from dataclasses import dataclass

from cdktf import TerraformOutput, TerraformStack
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderAssumeRole, AwsProviderDefaultTags
from constructs import Construct

from vault_platform.config.model import ClusterConfig, EnvironmentConfig, NetworkConfig
from vault_platform.constructs.eks import EksCluster, EksClusterProps
from vault_platform.constructs.kms import KmsKey, KmsKeyProps
from vault_platform.constructs.vpc import Vpc, VpcProps
from vault_platform.state_backend import session_name, state_backend

PARTITION = "aws"  # every region in config/regions.py is in the commercial partition

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
        self.account = AccountContext(region=region, account_id=account_id)

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


def cluster_foundation(stack: PlatformStack, name: str, network: NetworkConfig, cluster: ClusterConfig) -> ClusterFoundation:
    """Keys, VPC and EKS cluster of one cluster stack, with fixed construct ids (so the
    Terraform addresses are the same in both stacks and across refactors)."""
    env, account = stack.env, stack.account
    logs = logs_key(stack, "logs-key", f"{name}/logs", account)
    ebs = ebs_key(stack, "ebs-key", f"{name}/ebs", account)
    secrets = plain_key(stack, "eks-secrets-key", f"{name}/eks-secrets", "EKS envelope encryption of Kubernetes Secrets", account)
    vpc = Vpc(stack, "vpc", VpcProps(
        name=name, network=network, availability_zones=env.availability_zones, region=env.region,
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
