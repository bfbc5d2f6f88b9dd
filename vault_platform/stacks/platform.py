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

from collections.abc import Sequence
from pathlib import Path

from cdktf import (
    Fn,
    Op,
    Precondition,
    TerraformOutput,
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

from vault_platform.addons import ChartContext, addons_for, install_order
from vault_platform.addons.flux import FLUX_NAMESPACE, NAMESPACE_RESOURCE
from vault_platform.addons.flux_sync import GIT_SECRET_RESOURCE, PLATFORM_VARS_RESOURCE
from vault_platform.addons.vault import VAULT_PORT
from vault_platform.config.model import EnvironmentConfig
from vault_platform.constructs.helm_addon import install_addons
from vault_platform.constructs.helm_chart import HelmAddonProps, validate_addons
from vault_platform.constructs.vault_ca import VaultCa, VaultCaProps
from vault_platform.gitops import platform_vars
from vault_platform.gitops.contract import Unavailable, check_flux_variables, cluster_role, configmap_data, features_off
from vault_platform.stacks.application import ApplicationStack
from vault_platform.stacks.tooling import ToolingStack
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


def platform_values(role: str, env: EnvironmentConfig, tooling: ToolingStack, own: ToolingStack | ApplicationStack,
                    applications: Sequence[ApplicationStack], vault_ca: VaultCa | None = None) -> dict[str, object]:
    """Key -> value (literal or cross-stack token) of the cluster's platform-vars ConfigMap.

    ``own``: the cluster's AWS stack; ``applications``: every application cluster's, in file
    order (the tooling cluster's keys cover all of them). The one place a key gets its value;
    ``configmap_data`` checks it against platform_vars.py both ways.
    """
    # The one application cluster with the demo database (config/validate.py).
    database = next(app.database for app in applications if app.database is not None)
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
        "EBS_KMS_KEY_ARN": own.ebs_key.arn,
        "DATABASE_HOST": database.address,
        "DATABASE_PORT": Fn.tostring(database.port),  # ConfigMap values are strings
        "DATABASE_NAME": database.database_name,
        # The tooling stack's ECR repositories (<environment>/<name>): CI pushes there and every
        # cluster pulls from there. One account per environment, so the nodes' role
        # (AmazonEC2ContainerRegistryReadOnly) reads them without a repository policy.
        "ECR_REGISTRY": f"{tooling.account.account_id}.dkr.ecr.{env.region}.amazonaws.com",
    }
    if role == platform_vars.TOOLING:
        values.update({
            "VAULT_KMS_KEY_ID": tooling.vault_unseal_key.key_id,
            "VAULT_BACKUP_BUCKET": tooling.vault_backup.name,
            "VAULT_BACKUP_SCHEDULE": env.tooling.vault_backup.schedule,
            "GITOPS_URL": env.gitops.url,
            "GITOPS_BRANCH": env.gitops.branch,
            # The instance CI's OIDC roles trust is the one the runner serves.
            # Operators arrive source-NATed into the tooling VPC, each application cluster
            # through its peering (vault_platform/flows/declared.py).
            "VAULT_CLIENT_CIDRS": ",".join([env.tooling.network.cidr, *(app.network.cidr for app in env.application_clusters)]),
            # Every application cluster, sorted by name: one Kubernetes auth mount each (vault-configure).
            "VAULT_KUBERNETES_CLUSTERS_B64": Fn.base64encode(Fn.jsonencode([
                platform_vars.vault_kubernetes_cluster(app.config.cluster.name, app.cluster.endpoint,
                                                       app.cluster.certificate_authority_data)
                for app in sorted(applications, key=lambda app: app.config.cluster.name)])),
            "DATABASE_MASTER_SECRET_ARN": database.master_secret_arn,
        })
        if env.ci is not None:  # feature ci: without [ci] the environment trusts no GitLab instance
            values["GITLAB_URL"] = env.ci.gitlab_url
            values["GITLAB_RUNNER_SUSPEND"] = "false"
        if tooling.efs is not None:  # feature tooling.efs_enabled: off, the ConfigMap lacks these keys
            values["EFS_FILE_SYSTEM_ID"] = tooling.efs.file_system_id
            values["EFS_ACCESS_POINT_ID"] = tooling.efs.access_point_id
    else:
        values["VAULT_KUBERNETES_MOUNT"] = platform_vars.vault_kubernetes_mount(own.config.cluster.name)
        values["VAULT_CA_CERT_B64"] = Fn.base64encode(vault_ca.certificate_pem) if vault_ca is not None else no_ca
    # Each add-on's role, under the key it declares (vault_platform/addons/).
    values.update({addon.role_arn_var: own.addon_roles[addon.name].arn
                   for addon in addons_for(role, env) if addon.role_arn_var})
    return values


def cluster_addons(role: str, env: EnvironmentConfig, own: ToolingStack | ApplicationStack) -> tuple[HelmAddonProps, ...]:
    """The charts of the add-ons that run on this cluster, in dependency order, with what
    only this cluster's stack knows merged in (each add-on's ``chart_values``)."""
    cluster = ChartContext(
        cluster_role=role, cluster_name=own.cluster.cluster_name, region=env.region, vpc_id=own.vpc.vpc_id,
        role_arns={name: irsa.arn for name, irsa in own.addon_roles.items()},
        gitops=env.gitops, flux_path=f"{env.gitops.path}/{role}",
    )
    by_name = {addon.name: addon for addon in addons_for(role, env)}
    return tuple(chart.with_values(by_name[chart.name].chart_values(cluster)) if by_name[chart.name].chart_values else chart
                 for chart in install_order(by_name.values()))


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
            # Where operators and CI get VAULT_CACERT from (docs/ci-trust.md): the certificate
            # only, public; the key stays in the state and Secret cert-manager/vault-ca-keypair.
            TerraformOutput(self, "vault_ca_certificate", value=self.vault_ca.certificate_pem,
                            description="PEM of the private CA that signs Vault's listener certificate: VAULT_CACERT")

        namespace = NamespaceV1(self, "flux-system-namespace", provider=kubernetes,
                                metadata=NamespaceV1Metadata(name=FLUX_NAMESPACE))
        self.platform_vars = ConfigMapV1(
            self, "platform-vars", provider=kubernetes, data=data, depends_on=[namespace],
            metadata=ConfigMapV1Metadata(name=platform_vars.CONFIGMAP_NAME, namespace=platform_vars.CONFIGMAP_NAMESPACE),
        )
        git_secret = self._git_secret(kubernetes, namespace)
        self._storage_classes(kubernetes, own)
        if role == platform_vars.TOOLING and tooling.efs is not None:
            self._efs_storage_class(kubernetes, tooling)

        # The stack's resources the add-ons' charts may wait for (HelmAddonProps.needs).
        self.addons = install_addons(self, chart_addons, provider=helm, resources={
            NAMESPACE_RESOURCE: namespace, PLATFORM_VARS_RESOURCE: self.platform_vars, GIT_SECRET_RESOURCE: git_secret,
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
            metadata=SecretV1Metadata(name=gitops.secret_name, namespace=FLUX_NAMESPACE),
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
