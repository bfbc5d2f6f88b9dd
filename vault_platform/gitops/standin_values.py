"""Stand-in values for the cross-stack references in a synthesized platform-vars ConfigMap.

A synth writes ``flux-system/platform-vars`` with literals (``VAULT_ADDR``, ``GITLAB_URL``,
``AWS_REGION``, ...) and with Terraform expressions for what only an apply knows (an account
id, a role ARN, an RDS address: ``${data.terraform_remote_state...}``). To render the Flux
tree as a cluster receives it without an apply, each such value is replaced by a STAND-IN
shaped like the real one (an ARN in the environment's region and a documentation account,
an RDS host name, a port as a decimal string): never a value a real account returned.
Literal values are kept exactly as synthesized.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping

STANDIN_ACCOUNT_ID = "123456789012"
_TERRAFORM_EXPRESSION = "${"
_STANDIN_CA_PEM = ("-----BEGIN CERTIFICATE-----\nstand-in CA of the tooling platform stack (not a real certificate)\n"
                   "-----END CERTIFICATE-----\n")


class MissingStandIn(KeyError):
    pass


def _standins(data: Mapping[str, str]) -> dict[str, Callable[[], str]]:
    env = data.get("ENVIRONMENT_NAME", "demo")
    region = data.get("AWS_REGION", "eu-west-1")
    account = STANDIN_ACCOUNT_ID
    cluster_name = f"{env}-{'tooling' if 'VAULT_KMS_KEY_ID' in data else 'application'}"
    eks_host = f"https://0123456789ABCDEF0123456789ABCDEF.gr7.{region}.eks.amazonaws.com"
    return {
        "AWS_ACCOUNT_ID": lambda: account,
        "CLUSTER_NAME": lambda: cluster_name,
        "VPC_ID": lambda: "vpc-0a1b2c3d4e5f60718",
        "PRIVATE_ZONE_ID": lambda: "Z0123456789ABCDEFGHIJ",
        "EBS_KMS_KEY_ARN": lambda: f"arn:aws:kms:{region}:{account}:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
        "VAULT_KMS_KEY_ID": lambda: "1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809",
        "ECR_REGISTRY": lambda: f"{account}.dkr.ecr.{region}.amazonaws.com",
        "EFS_FILE_SYSTEM_ID": lambda: "fs-0123456789abcdef0",
        "EFS_ACCESS_POINT_ID": lambda: "fsap-0123456789abcdef0",
        "DATABASE_HOST": lambda: f"{env}-app.c0abcdefghij.{region}.rds.amazonaws.com",
        "DATABASE_PORT": lambda: "5432",  # Fn.tostring(port): a decimal string
        "DATABASE_MASTER_SECRET_ARN":
            lambda: f"arn:aws:secretsmanager:{region}:{account}:secret:rds!db-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9-AbCdEf",
        # bucket_prefix "<env>-vault-backup-" and the 26 characters Terraform appends to it.
        "VAULT_BACKUP_BUCKET": lambda: f"{env}-vault-backup-20261205120000000000000001",
        "VAULT_CA_CERT_B64": lambda: base64.b64encode(_STANDIN_CA_PEM.encode()).decode(),
        "VAULT_KUBERNETES_CLUSTERS_B64": lambda: base64.b64encode(json.dumps([{
            "name": "application", "mount": "kubernetes-application", "kubernetes_host": eks_host,
            "kubernetes_ca_cert_b64": base64.b64encode(_STANDIN_CA_PEM.encode()).decode()}]).encode()).decode(),
    }


def _role_arn(key: str, data: Mapping[str, str]) -> str:
    """An IRSA role ARN named as the add-on roles are (<env>-<cluster>-<suffix>)."""
    suffix = key.removesuffix("_ROLE_ARN").lower().replace("_", "-")
    cluster = "tooling" if "VAULT_KMS_KEY_ID" in data else "application"
    return f"arn:aws:iam::{STANDIN_ACCOUNT_ID}:role/{data.get('ENVIRONMENT_NAME', 'demo')}-{cluster}-{suffix}"


def with_standins(configmap_data: Mapping[str, str]) -> dict[str, str]:
    """``configmap_data`` with each Terraform-expression value replaced by its stand-in."""
    standins = _standins(configmap_data)
    values: dict[str, str] = {}
    for key, value in configmap_data.items():
        if _TERRAFORM_EXPRESSION not in value:
            values[key] = value
        elif key in standins:
            values[key] = standins[key]()
        elif key.endswith("_ROLE_ARN"):
            values[key] = _role_arn(key, configmap_data)
        else:
            raise MissingStandIn(f"platform-vars key {key} is a Terraform expression with no stand-in; "
                                 "fix: give it one in vault_platform/gitops/standin_values.py")
    return values


def synthesized_platform_vars(stack: Mapping[str, object]) -> dict[str, str]:
    """The data of the ``platform-vars`` ConfigMap in a synthesized platform stack's JSON."""
    maps = stack["resource"]["kubernetes_config_map_v1"]  # type: ignore[index]
    (configmap,) = [m for m in maps.values() if m["metadata"]["name"] == "platform-vars"]  # type: ignore[union-attr]
    return dict(configmap["data"])
