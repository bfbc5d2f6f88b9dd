"""The platform stack of one cluster: what runs inside Kubernetes before Flux takes over.

One instance per cluster (``tooling-platform``, ``<name>-platform`` per application cluster). Its kubernetes
and helm providers reach the cluster that the AWS stack made, by cross-stack reference
(endpoint, CA, name), and authenticate with ``aws eks get-token`` on every run: a token
read once from ``aws_eks_cluster_auth`` would expire 15 minutes into a long apply. The
references make cdktf write the AWS stacks' outputs and this stack's remote-state reads,
and record the stack dependencies in manifest.json, so ``cdktf deploy '*'`` orders them.

It installs the AWS load balancer controller and Flux (Helm, pinned), the default
KMS-encrypted gp3 StorageClass (and on the tooling cluster with EFS, ``efs-shared``), the
ConfigMap ``flux-system/platform-vars`` (every key of ``platform_vars.keys_for(cluster)``
except those of features the environment turns off, filled from the AWS stacks), the Git credentials
Secret when the key is given, and Flux's GitRepository ``platform`` with the cluster's root
Kustomization (``<gitops.path>/<role>``: every application cluster syncs the one
``flux/clusters/application`` tree, told apart only by its platform vars). Everything else
is Flux's, from flux/.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cdktf import (
    Fn,
    Op,
    Precondition,
    TerraformResourceLifecycle,
    TerraformStack,
    TerraformVariable,
    Token,
)
from cdktf_cdktf_provider_helm.provider import HelmProvider, HelmProviderKubernetes, HelmProviderKubernetesExec
from cdktf_cdktf_provider_kubernetes.annotations import Annotations, AnnotationsMetadata
from cdktf_cdktf_provider_kubernetes.config_map_v1 import ConfigMapV1, ConfigMapV1Metadata
from cdktf_cdktf_provider_kubernetes.namespace_v1 import NamespaceV1, NamespaceV1Metadata
from cdktf_cdktf_provider_kubernetes.provider import KubernetesProvider, KubernetesProviderExec
from cdktf_cdktf_provider_kubernetes.secret_v1 import SecretV1, SecretV1Metadata
from cdktf_cdktf_provider_kubernetes.storage_class_v1 import StorageClassV1, StorageClassV1Metadata
from cdktf_cdktf_provider_tls.provider import TlsProvider
from constructs import Construct

from vault_platform.gitops import platform_vars
from vault_platform.config.model import EnvironmentConfig
from vault_platform.constructs.helm_addon import HelmAddonProps, install_addons, validate_addons
from vault_platform.constructs.vault_ca import VaultCa, VaultCaProps
from vault_platform.errors import ConfigError
from vault_platform.gitops.substitution import required_variables
from vault_platform.stacks import addons
from vault_platform.stacks.application import ApplicationStack
from vault_platform.stacks.tooling import VAULT_PORT, ToolingStack
from vault_platform.state_backend import state_backend

REPO_ROOT = Path(__file__).resolve().parents[2]

# The exec credential plugin API that `aws eks get-token` answers (AWS CLI v2).
EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
STORAGE_CLASS = "gp3-encrypted"
# For data that must outlive its claim (Vault's raft and audit volumes): deleting the PVC,
# the StatefulSet or the whole release leaves the EBS volume to be re-attached, not erased.
RETAINED_STORAGE_CLASS = "gp3-encrypted-retain"
# ReadWriteMany volumes on the tooling EFS, one access point each (tooling.efs_enabled).
EFS_STORAGE_CLASS = "efs-shared"

# Terraform variables of each platform stack: the deploy key never passes through code or
# config. Set TF_VAR_flux_git_ssh_private_key (and _known_hosts) for `cdktf deploy`.
SSH_KEY_VARIABLE = "flux_git_ssh_private_key"
KNOWN_HOSTS_VARIABLE = "flux_git_known_hosts"
KEY_REVISION_VARIABLE = "flux_git_ssh_key_revision"


@dataclass(frozen=True)
class Unavailable:
    """A platform var the environment cannot fill, and the config field that decides it."""

    field: str
    value: object


def cluster_role(env: EnvironmentConfig, cluster: str) -> str:
    """The role (platform_vars.TOOLING / APPLICATION) of the cluster the environment names ``cluster``."""
    roles = {env.tooling.cluster.name: platform_vars.TOOLING,
             **{app.cluster.name: platform_vars.APPLICATION for app in env.application_clusters}}
    if cluster not in roles:
        raise ConfigError("cluster", cluster, f"is not a cluster of environment '{env.name}' ({env.source or 'in memory'})",
                          f"use one of: {', '.join(roles)}")
    return roles[cluster]


def features_off(env: EnvironmentConfig) -> frozenset[str]:
    """The feature switches of platform_vars.py (dotted config fields) this environment turns off."""
    switches = {var.feature for var in platform_vars.PLATFORM_VARS if var.feature is not None}
    return frozenset(switch for switch in switches if not functools.reduce(getattr, switch.split("."), env))


def platform_values(role: str, env: EnvironmentConfig, tooling: ToolingStack, own: ToolingStack | ApplicationStack,
                    applications: Sequence[ApplicationStack], vault_ca: VaultCa | None = None) -> dict[str, object]:
    """Key -> value (literal or cross-stack token) of the cluster's platform-vars ConfigMap.

    ``own``: the cluster's AWS stack; ``applications``: every application cluster's, in file
    order (the tooling cluster's keys cover all of them). The one place a key gets its value;
    ``configmap_data`` checks it against platform_vars.py both ways.
    """
    # The one application cluster with the demo database (config/validate.py).
    database = next(app.database for app in applications if app.database is not None)
    # Until the Vault side reads VAULT_KUBERNETES_CLUSTERS_B64 (CONTRACT.md), Vault's
    # Kubernetes auth knows the first application cluster of the file.
    first = applications[0]
    no_ca = Unavailable("vault_ca", "<none>")  # the tooling platform stack's CA, passed to the application one
    values: dict[str, object] = {
        "ENVIRONMENT_NAME": env.name,
        "AWS_REGION": env.region,
        "AWS_ACCOUNT_ID": own.account.account_id,
        "CLUSTER_NAME": own.cluster.cluster_name,
        "VPC_ID": own.vpc.vpc_id,
        "VAULT_ADDR": f"https://{tooling.vault_hostname}:{VAULT_PORT}",
        "VAULT_HOSTNAME": tooling.vault_hostname,
        "PRIVATE_ZONE_NAME": tooling.zone.name,
        "PRIVATE_ZONE_ID": tooling.zone.zone_id,
        "EXTERNAL_DNS_ROLE_ARN": own.addon_roles.external_dns.arn,
        "EXTERNAL_SECRETS_ROLE_ARN": own.addon_roles.external_secrets.arn,
        "EBS_KMS_KEY_ARN": own.ebs_key.arn,
        "DATABASE_HOST": database.address,
        "DATABASE_PORT": Fn.tostring(database.port),  # ConfigMap values are strings
        "DATABASE_NAME": database.database_name,
    }
    if role == platform_vars.TOOLING:
        values.update({
            "VAULT_KMS_KEY_ID": tooling.vault_unseal_key.key_id,
            "VAULT_ROLE_ARN": tooling.vault_role.arn,
            "GITLAB_RUNNER_ROLE_ARN": tooling.gitlab_runner_role.arn,
            "ECR_REGISTRY": f"{tooling.account.account_id}.dkr.ecr.{env.region}.amazonaws.com",
            # The instance CI's OIDC roles trust is the one the runner serves.
            "GITLAB_URL": env.ci.gitlab_url,
            # Operators arrive source-NATed into the tooling VPC, each application cluster
            # through its peering (vault_platform/flows/declared.py).
            "VAULT_CLIENT_CIDRS": ",".join([env.tooling.network.cidr, *(app.network.cidr for app in env.application_clusters)]),
            "APPLICATION_CLUSTER_ENDPOINT": first.cluster.endpoint,
            "APPLICATION_CLUSTER_CA": first.cluster.certificate_authority_data,
            "DATABASE_MASTER_SECRET_ARN": database.master_secret_arn,
        })
        if tooling.efs is not None:  # feature tooling.efs_enabled: off, the ConfigMap lacks these keys
            values["EFS_FILE_SYSTEM_ID"] = tooling.efs.file_system_id
            values["EFS_ACCESS_POINT_ID"] = tooling.efs.access_point_id
    else:
        values["VAULT_CA_CERT_B64"] = Fn.base64encode(vault_ca.certificate_pem) if vault_ca is not None else no_ca
    return values


def configmap_data(role: str, values: Mapping[str, object], off: Collection[str] = ()) -> dict[str, str]:
    """Exactly the keys platform_vars.py lists for the cluster, less those of the feature
    switches in ``off`` (``features_off``), each with a value."""
    expected = platform_vars.keys_for(role, off)
    for key in expected:
        value = values.get(key)
        if isinstance(value, Unavailable):
            raise ConfigError(
                value.field, value.value, f"leaves {key} of the {role} cluster's platform-vars without a value",
                f"enable it, or drop {key} from the {role} keys in vault_platform/gitops/platform_vars.py (and from flux/)",
            )
        if value is None or value == "":
            raise ConfigError(
                f"platform-vars.{key}", value,
                f"vault_platform/gitops/platform_vars.py lists {key} for the {role} cluster but the platform stack gives it no value",
                "add its value to platform_values() in vault_platform/stacks/platform.py",
            )
    optional = platform_vars.optional_keys_for(role)
    for key in values:
        if key in optional and optional[key] in off:
            raise ConfigError(
                optional[key], False, f"turns {key} off for the {role} cluster but platform_values() still gives it a value",
                "give the value only when the feature is on (vault_platform/stacks/platform.py)",
            )
        if key not in expected:
            raise ConfigError(
                f"platform-vars.{key}", "<a value>",
                f"has a value in platform_values() but vault_platform/gitops/platform_vars.py does not list it for the {role} cluster",
                f"list {key} for {role} in platform_vars.py with a description, or remove the value",
            )
    return {key: values[key] for key in expected}  # type: ignore[misc] - checked above


def check_flux_variables(role: str, keys: tuple[str, ...] | list[str], env: EnvironmentConfig, repo_root: Path) -> None:
    """Every ${VAR} the cluster's Flux tree needs is a key of its platform-vars, and none is
    a key that only some environments have (whatever this environment's switches)."""
    entry = f"{env.gitops.path}/{role}"
    required = dict(required_variables(repo_root, entry))
    optional = platform_vars.optional_keys_for(role)
    for name, files in required.items():
        if name in optional:
            raise ConfigError(
                f"${{{name}}}", files[0],
                f"is substituted without a default by the {role} cluster's Flux tree ({entry}) but "
                f"{platform_vars.CONFIGMAP_NAME} has {name} only where {optional[name]} is on",
                f"write ${{{name}:=<default>}} in flux/, or make {name} a key of every environment in "
                "vault_platform/gitops/platform_vars.py",
            )
    unknown = [name for name in required if name not in keys]
    if unknown:
        name = unknown[0]
        more = f" (and {', '.join(unknown[1:])})" if unknown[1:] else ""
        raise ConfigError(
            f"${{{name}}}", required[name][0],
            f"is substituted by the {role} cluster's Flux tree ({entry}) but ConfigMap "
            f"{platform_vars.CONFIGMAP_NAMESPACE}/{platform_vars.CONFIGMAP_NAME} has no key {name}{more}",
            f"list {name} for {role} in vault_platform/gitops/platform_vars.py and give it a value in "
            f"vault_platform/stacks/platform.py, or write ${{{name}:=default}} in flux/",
        )


def cluster_addons(role: str, env: EnvironmentConfig, own: ToolingStack | ApplicationStack) -> tuple[HelmAddonProps, ...]:
    """The registry's add-ons with what only this cluster's stack knows merged in."""
    gitops = env.gitops
    repository_spec: dict[str, object] = {"url": gitops.url, "ref": {"branch": gitops.branch}, "interval": gitops.interval}
    if gitops.secret_name:
        repository_spec["secretRef"] = {"name": gitops.secret_name}
    return (
        addons.AWS_LOAD_BALANCER_CONTROLLER.with_values({
            "clusterName": own.cluster.cluster_name,
            "region": env.region,
            "vpcId": own.vpc.vpc_id,
            "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": own.addon_roles.load_balancer_controller.arn}},
        }),
        addons.FLUX,
        addons.FLUX_SYNC.with_values({
            "gitRepository": {"spec": repository_spec},
            "kustomization": {"spec": {
                "path": f"{gitops.path}/{role}",
                "interval": gitops.interval,
                "prune": True,
                "postBuild": {"substituteFrom": [{"kind": "ConfigMap", "name": platform_vars.CONFIGMAP_NAME}]},
            }},
        }),
    )


class ClusterPlatformStack(TerraformStack):
    """``cluster``: the short cluster name from the environment (e.g. "tooling").
    ``vault_ca``: the tooling platform stack's ``vault_ca``, for the application cluster
    (which trusts Vault's certificate through it); the tooling stack makes it itself."""

    def __init__(self, scope: Construct, stack_id: str, env: EnvironmentConfig, *, cluster: str,
                 tooling: ToolingStack, applications: Sequence[ApplicationStack], vault_ca: VaultCa | None = None,
                 repo_root: Path = REPO_ROOT) -> None:
        # Everything that can be refused is checked before the stack exists. The tooling
        # stack's CA does not exist yet at this point: its one value is filled in below.
        role = cluster_role(env, cluster)
        own = tooling if role == platform_vars.TOOLING else next(
            app for app in applications if app.config.cluster.name == cluster)
        data = configmap_data(role, platform_values(role, env, tooling, own, applications, vault_ca), features_off(env))
        check_flux_variables(role, list(data), env, repo_root)
        chart_addons = cluster_addons(role, env, own)
        validate_addons(chart_addons)

        super().__init__(scope, stack_id)
        self.env = env
        self.role = role
        state_backend(self, env, stack_id)

        cluster_name = own.cluster.cluster_name
        host = own.cluster.endpoint
        ca = Fn.base64decode(own.cluster.certificate_authority_data)
        token_args = ["eks", "get-token", "--cluster-name", cluster_name, "--region", env.region]
        if env.assume_role_arn:  # the role that created the cluster, as the AWS provider assumed it
            token_args += ["--role-arn", env.assume_role_arn]
        kubernetes = KubernetesProvider(
            self, "kubernetes", host=host, cluster_ca_certificate=ca,
            exec=[KubernetesProviderExec(api_version=EXEC_API_VERSION, command="aws", args=token_args)],
        )
        helm = HelmProvider(self, "helm", kubernetes=HelmProviderKubernetes(
            host=host, cluster_ca_certificate=ca,
            exec=HelmProviderKubernetesExec(api_version=EXEC_API_VERSION, command="aws", args=token_args),
        ))

        self.vault_ca: VaultCa | None = None
        if role == platform_vars.TOOLING:
            TlsProvider(self, "tls")
            self.vault_ca = VaultCa(self, "vault-ca", VaultCaProps(
                common_name=f"{env.name} Vault CA", organization=env.name,
            ), kubernetes=kubernetes)

        namespace = NamespaceV1(self, "flux-system-namespace", provider=kubernetes,
                                metadata=NamespaceV1Metadata(name=addons.FLUX_NAMESPACE))
        self.platform_vars = ConfigMapV1(
            self, "platform-vars", provider=kubernetes, data=data, depends_on=[namespace],
            metadata=ConfigMapV1Metadata(name=platform_vars.CONFIGMAP_NAME, namespace=platform_vars.CONFIGMAP_NAMESPACE),
        )
        git_secret = self._git_secret(kubernetes, namespace)
        self._storage_classes(kubernetes, own)
        if role == platform_vars.TOOLING and tooling.efs is not None:
            self._efs_storage_class(kubernetes, tooling)

        sync_needs = [namespace, self.platform_vars] + ([git_secret] if git_secret is not None else [])
        self.addons = install_addons(self, chart_addons, provider=helm, after={
            addons.FLUX.name: [namespace],
            addons.FLUX_SYNC.name: sync_needs,
        })

    def _git_secret(self, kubernetes: KubernetesProvider, namespace: NamespaceV1) -> SecretV1 | None:
        """The deploy key Secret, made only when the key variable is set (else the operator's)."""
        gitops = self.env.gitops
        if not gitops.url.startswith("ssh://"):
            return None  # https: the operator creates username/password, or none for a public repo
        key = TerraformVariable(self, SSH_KEY_VARIABLE, type="string", sensitive=True, default="",
                                description=f"Private SSH deploy key (read-only) of {gitops.url}; empty: the "
                                            f"operator creates Secret flux-system/{gitops.secret_name} beforehand")
        known_hosts = TerraformVariable(self, KNOWN_HOSTS_VARIABLE, type="string", default="",
                                        description="known_hosts line(s) of the Git server, needed with the key")
        revision = TerraformVariable(self, KEY_REVISION_VARIABLE, type="number", default=1,
                                     description="Raise by one to write a new key into the Secret (the key is write-only)")
        return SecretV1(
            self, "flux-git-deploy-key", provider=kubernetes, depends_on=[namespace],
            # Whether a key is given is not itself secret; the key stays out of the plan.
            count=Token.as_number(Fn.conditional(Fn.nonsensitive(Op.gte(Fn.length_of(key.string_value), 1)), 1, 0)),
            metadata=SecretV1Metadata(name=gitops.secret_name, namespace=addons.FLUX_NAMESPACE),
            # Write-only: the key reaches the cluster but is never stored in Terraform state.
            data_wo={"identity": key.string_value, "known_hosts": known_hosts.string_value},
            data_wo_revision=revision.number_value,
            lifecycle=TerraformResourceLifecycle(precondition=[Precondition(
                condition=Op.gte(Fn.length_of(known_hosts.string_value), 1),
                error_message=f"{KNOWN_HOSTS_VARIABLE} is empty: Flux refuses an SSH host it cannot verify; "
                              f"set TF_VAR_{KNOWN_HOSTS_VARIABLE} to the Git server's known_hosts line(s)",
            )]),
        )

    def _storage_classes(self, kubernetes: KubernetesProvider, own: ToolingStack | ApplicationStack) -> None:
        # The cluster's own EBS key, which the EBS CSI driver's IRSA role may grant to EC2.
        for name, reclaim_policy, default in ((STORAGE_CLASS, "Delete", "true"), (RETAINED_STORAGE_CLASS, "Retain", "false")):
            StorageClassV1(
                self, name, provider=kubernetes,
                metadata=StorageClassV1Metadata(name=name, annotations={DEFAULT_CLASS_ANNOTATION: default}),
                storage_provisioner="ebs.csi.aws.com",
                parameters={"type": "gp3", "encrypted": "true", "kmsKeyId": own.ebs_key.arn, "csi.storage.k8s.io/fstype": "ext4"},
                reclaim_policy=reclaim_policy,
                # Bind where the pod is scheduled: an EBS volume lives in one zone.
                volume_binding_mode="WaitForFirstConsumer",
                allow_volume_expansion=True,
            )
        # EKS still creates gp2; from Kubernetes 1.30 it is no longer marked default, but a
        # cluster upgraded from before keeps the mark. Two defaults make PVCs without a class
        # ambiguous, so the mark is set to "false" explicitly (gp2 itself stays).
        Annotations(
            self, "gp2-not-default", provider=kubernetes, api_version="storage.k8s.io/v1", kind="StorageClass",
            metadata=AnnotationsMetadata(name="gp2"), annotations={DEFAULT_CLASS_ANNOTATION: "false"}, force=True,
        )

    def _efs_storage_class(self, kubernetes: KubernetesProvider, tooling: ToolingStack) -> None:
        """Shared (ReadWriteMany) volumes on the tooling EFS through the EFS CSI add-on of the
        tooling stack: each claim gets its own access point, directory and POSIX identity
        (parameters: kubernetes-sigs/aws-efs-csi-driver, docs "Dynamic Provisioning")."""
        StorageClassV1(
            self, EFS_STORAGE_CLASS, provider=kubernetes,
            metadata=StorageClassV1Metadata(name=EFS_STORAGE_CLASS, annotations={DEFAULT_CLASS_ANNOTATION: "false"}),
            storage_provisioner="efs.csi.aws.com",
            parameters={
                "provisioningMode": "efs-ap",
                "fileSystemId": tooling.efs.file_system_id,
                "directoryPerms": "700",
                # Below their own directory, apart from the stack's /shared access point.
                "basePath": "/dynamic",
            },
            # Shared data outlives a claim: deleting the PVC keeps the access point and files.
            reclaim_policy="Retain",
            # The file system policy refuses NFS without TLS; the driver mounts with TLS by
            # default, named here so that a change of that default cannot break every mount.
            mount_options=["tls"],
        )
