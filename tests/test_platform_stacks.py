"""The platform stacks (tooling-platform, application-platform): Kubernetes-level setup wired
to the AWS stacks by cross-stack reference.

Validation here is synth-level: the kubernetes, helm and tls provider binaries are not
on this machine, so `terraform validate` of these stacks is skipped with that reason
(test_terraform_validate_of_platform_stacks) and runs where they can be installed.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from cdktf import App

from tests.helpers import environment_variant, set_at
from tests.synth import StackJson
from vault_platform.app import stack_order
from vault_platform.config import load_environment
from vault_platform.gitops import platform_vars
from vault_platform.constructs.helm_chart import EXACT_CHART_VERSION, check_dependencies, validate_addons
from vault_platform.errors import ConfigError
from vault_platform.gitops.substitution import scan_cluster
from vault_platform.addons import addons_for, install_order, registry
from vault_platform.gitops.contract import Unavailable, check_flux_variables, configmap_data, features_off
from vault_platform.stacks.platform import REPO_ROOT, ClusterPlatformStack
from vault_platform.ops.terraform_cli import missing_providers

PLATFORM = {"tooling-platform": ("tooling", "tooling"), "application-platform": ("application", "application")}
REMOTE = re.compile(r"\$\{data\.terraform_remote_state\.cross-stack-reference-input-([\w-]+)\.outputs\.([\w.-]+)\}")


@pytest.fixture(scope="session")
def env():
    return load_environment("default")


def remote_output(expression: str, stacks: dict[str, StackJson]) -> tuple[str, str]:
    """The producing stack and the Terraform expression behind one cross-stack reference."""
    match = REMOTE.fullmatch(expression)
    assert match, f"not a plain cross-stack reference: {expression}"
    producer, output = match.groups()
    outputs = stacks[producer].outputs()
    assert output in outputs, f"{producer} has no output {output}"
    return producer, outputs[output]["value"]


def irsa_role_of(stack: StackJson, expression: str) -> str:
    """The namespace/service account whose IRSA role ``expression`` (${aws_iam_role.X.arn}) is."""
    name = re.fullmatch(r"\$\{aws_iam_role\.([\w-]+)\.arn\}", expression).group(1)
    # The trust policy holds Terraform interpolations with quotes: not parseable as JSON here.
    subjects = re.findall(r'"system:serviceaccount:([^"]+)"', stack.resources("aws_iam_role")[name]["assume_role_policy"])
    assert len(subjects) == 1, subjects
    return subjects[0].replace(":", "/")


# --- providers: exec auth against the AWS stack's cluster -------------------------------------

@pytest.mark.parametrize("platform", PLATFORM)
def test_providers_authenticate_with_aws_eks_get_token(platform, default_stacks):
    stack = default_stacks[platform]
    aws_stack = PLATFORM[platform][1]
    kubernetes = stack.data["provider"]["kubernetes"][0]
    helm = stack.data["provider"]["helm"][0]["kubernetes"]
    for config, exec_block in ((kubernetes, kubernetes["exec"][0]), (helm, helm["exec"])):
        assert "token" not in config, "a static token expires after 15 minutes"
        assert exec_block["api_version"] == "client.authentication.k8s.io/v1beta1"
        assert exec_block["command"] == "aws"
        args = exec_block["args"]
        assert args[:2] == ["eks", "get-token"] and args[args.index("--region") + 1] == "eu-west-1"
        producer, value = remote_output(args[args.index("--cluster-name") + 1], default_stacks)
        assert (producer, value) == (aws_stack, "${aws_eks_cluster.eks_cluster_55B0C966.name}")
        assert remote_output(config["host"], default_stacks) == (aws_stack, "${aws_eks_cluster.eks_cluster_55B0C966.endpoint}")
        ca = re.fullmatch(r"\$\{base64decode\((.+)\)\}", config["cluster_ca_certificate"]).group(1)
        assert remote_output("${" + ca + "}", default_stacks)[1] == \
            "${aws_eks_cluster.eks_cluster_55B0C966.certificate_authority[0].data}"
    assert "aws_eks_cluster_auth" not in json.dumps(stack.data)


def test_stack_dependencies_in_manifest_follow_stack_order(default_stacks):
    manifest = json.loads((default_stacks["tooling"].path.parents[2] / "manifest.json").read_text())
    dependencies = {name: set(spec.get("dependencies", [])) for name, spec in manifest["stacks"].items()}
    # vpn: the platform stacks' providers reach the private APIs through it (deploy.access = "vpn").
    assert dependencies["tooling-platform"] >= {"tooling", "application", "vpn"}
    assert dependencies["application-platform"] >= {"tooling", "application", "tooling-platform", "vpn"}
    order = list(stack_order(load_environment("default"), "default"))
    assert order.index("vpn") < order.index("tooling-platform") < order.index("application-platform")
    for stack, needs in dependencies.items():
        for dependency in needs:
            assert order.index(dependency) < order.index(stack), f"{stack} needs {dependency}, deployed after it in stack_order()"


# --- Helm add-ons ---------------------------------------------------------------------------

@pytest.mark.parametrize("platform", PLATFORM)
def test_every_helm_release_is_pinned_to_the_registry_version(platform, default_stacks):
    releases = default_stacks[platform].resources("helm_release")
    expected = {chart.release or chart.name: chart for chart in install_order(registry().values())}
    assert {r["name"] for r in releases.values()} == set(expected)
    for release in releases.values():
        assert EXACT_CHART_VERSION.match(release["version"]), release
        addon = expected[release["name"]]
        assert (release["chart"], release["version"], release["repository"]) == (addon.chart, addon.version, addon.repository)
        assert release["atomic"] is True and release["wait"] is True


@pytest.mark.parametrize("platform", PLATFORM)
def test_load_balancer_controller_uses_the_aws_stacks_irsa_role(platform, default_stacks):
    stack = default_stacks[platform]
    aws_stack = PLATFORM[platform][1]
    release = next(r for r in stack.resources("helm_release").values() if r["name"] == "aws-load-balancer-controller")
    values = json.loads(release["values"][0])
    assert release["namespace"] == "kube-system" and values["serviceAccount"]["name"] == "aws-load-balancer-controller"
    producer, role = remote_output(values["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"], default_stacks)
    assert producer == aws_stack
    assert irsa_role_of(default_stacks[aws_stack], role) == "kube-system/aws-load-balancer-controller"
    # the same role the AWS stack publishes as its documented output
    assert default_stacks[aws_stack].outputs()["load_balancer_controller_role_arn"]["value"] == role
    assert remote_output(values["vpcId"], default_stacks)[1] == default_stacks[aws_stack].outputs()["vpc_id"]["value"]
    assert values["region"] == "eu-west-1"
    assert remote_output(values["clusterName"], default_stacks)[1] == "${aws_eks_cluster.eks_cluster_55B0C966.name}"


@pytest.mark.parametrize("platform", PLATFORM)
def test_flux_syncs_this_cluster_from_the_configured_repository(platform, default_stacks, env):
    stack = default_stacks[platform]
    releases = {r["name"]: (key, r) for key, r in stack.resources("helm_release").items()}
    flux_key, flux = releases["flux"]
    _, sync = releases["platform"]
    assert flux["namespace"] == sync["namespace"] == "flux-system"
    assert f"helm_release.{flux_key}" in sync["depends_on"], "the sync objects need Flux's CRDs first"
    assert "kubernetes_config_map_v1.platform-vars" in sync["depends_on"]
    values = json.loads(sync["values"][0])
    repository = values["gitRepository"]["spec"]
    assert repository["url"] == env.gitops.url and repository["ref"] == {"branch": env.gitops.branch}
    assert repository["secretRef"] == {"name": env.gitops.secret_name}
    kustomization = values["kustomization"]["spec"]
    assert kustomization["path"] == f"./flux/clusters/{PLATFORM[platform][0]}"
    assert kustomization["postBuild"]["substituteFrom"] == [{"kind": "ConfigMap", "name": "platform-vars"}]


@pytest.mark.parametrize("platform", PLATFORM)
def test_deploy_key_comes_from_a_sensitive_variable_and_stays_out_of_state(platform, default_stacks):
    stack = default_stacks[platform]
    variable = stack.data["variable"]["flux_git_ssh_private_key"]
    assert variable["sensitive"] is True and variable["default"] == ""
    secret = stack.resources("kubernetes_secret_v1")["flux-git-deploy-key"]
    assert secret["data_wo"]["identity"] == "${var.flux_git_ssh_private_key}" and "data" not in secret
    # no key given: no Secret from Terraform, the operator's Secret of that name is used
    assert secret["count"] == "${nonsensitive((length(var.flux_git_ssh_private_key) >= 1)) ? 1 : 0}"
    assert secret["metadata"] == {"name": "flux-git-deploy-key", "namespace": "flux-system"}


@pytest.mark.parametrize("platform", PLATFORM)
def test_default_storage_class_is_gp3_encrypted_with_the_clusters_ebs_key(platform, default_stacks):
    stack = default_stacks[platform]
    aws_stack = PLATFORM[platform][1]
    classes = {sc["metadata"]["name"]: sc for sc in stack.resources("kubernetes_storage_class_v1").values()}
    efs = {"efs-shared"} if platform == "tooling-platform" else set()  # tests/test_efs.py
    assert set(classes) == {"gp3-encrypted", "gp3-encrypted-retain"} | efs
    storage_class = classes["gp3-encrypted"]
    assert storage_class["metadata"] == {"name": "gp3-encrypted",
                                         "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}
    retained = classes["gp3-encrypted-retain"]
    assert retained["reclaim_policy"] == "Retain" and storage_class["reclaim_policy"] == "Delete"
    assert retained["metadata"]["annotations"] == {"storageclass.kubernetes.io/is-default-class": "false"}
    assert retained["parameters"] == storage_class["parameters"]
    parameters = storage_class["parameters"]
    assert (storage_class["storage_provisioner"], parameters["type"], parameters["encrypted"]) == ("ebs.csi.aws.com", "gp3", "true")
    producer, key = remote_output(parameters["kmsKeyId"], default_stacks)
    assert (producer, key) == (aws_stack, default_stacks[aws_stack].outputs()["ebs_kms_key_arn"]["value"])
    gp2 = stack.one("kubernetes_annotations")
    assert (gp2["kind"], gp2["metadata"]["name"], gp2["annotations"]) == (
        "StorageClass", "gp2", {"storageclass.kubernetes.io/is-default-class": "false"})


# --- platform-vars: the contract with flux/ -------------------------------------------------

@pytest.mark.parametrize("platform", PLATFORM)
def test_platform_vars_configmap_has_exactly_the_contract_keys(platform, default_stacks, env):
    role = PLATFORM[platform][0]
    configmap = default_stacks[platform].one("kubernetes_config_map_v1")
    assert configmap["metadata"] == {"name": "platform-vars", "namespace": "flux-system"}
    assert sorted(configmap["data"]) == sorted(platform_vars.keys_for(role, features_off(env)))
    assert all(str(value) for value in configmap["data"].values())


@pytest.mark.parametrize("platform", PLATFORM)
def test_every_variable_flux_substitutes_is_a_configmap_key(platform, default_stacks, env):
    role = PLATFORM[platform][0]
    keys = set(default_stacks[platform].one("kubernetes_config_map_v1")["data"])
    scan = scan_cluster(REPO_ROOT, f"{env.gitops.path}/{role}")
    missing = {name: files for name, files in scan.required().items() if name not in keys}
    assert not missing, f"flux/ for {role} uses variables platform-vars lacks: {missing}"


def test_irsa_role_values_in_platform_vars_belong_to_their_service_accounts(default_stacks):
    for platform, (role, aws_stack) in PLATFORM.items():
        data = default_stacks[platform].one("kubernetes_config_map_v1")["data"]
        expected = {addon.role_arn_var: addon.irsa.subject for addon in addons_for(role) if addon.role_arn_var}
        assert expected, f"no add-on of the {role} cluster exports its role"
        for key, account in expected.items():
            producer, role_name = remote_output(data[key], default_stacks)
            assert producer == aws_stack and irsa_role_of(default_stacks[aws_stack], role_name) == account, key


def test_gitlab_runner_registers_with_the_environments_gitlab_instance(default_stacks):
    """One GitLab instance per environment: the one CI's AWS roles trust is the one the runner
    serves; an environment without [ci] (the default) names none: GITLAB_URL is absent, so the
    runner and Vault's jwt-gitlab mount get an empty value."""
    data = default_stacks["tooling-platform"].one("kubernetes_config_map_v1")["data"]
    assert "GITLAB_URL" not in data
    staging = load_environment("staging")
    assert "GITLAB_URL" in platform_vars.keys_for(platform_vars.TOOLING, features_off(staging))
    runner = yaml.safe_load((REPO_ROOT / "flux/infrastructure/gitlab-runner/helmrelease.yaml").read_text())
    assert runner["spec"]["values"]["gitlabUrl"] == "${GITLAB_URL:=}/"


def test_without_ci_the_runner_is_not_installed(default_stacks):
    """Before: an environment without [ci] installed a runner with gitlabUrl "/", which never
    registers. Now the tooling cluster's gitlab-runner Kustomization is suspended unless the
    platform-vars say otherwise, which only an environment with [ci] does."""
    from vault_platform.gitops.flux_envsubst import envsubst

    entry = (REPO_ROOT / "flux/clusters/tooling/gitlab-runner.yaml").read_text()
    default = default_stacks["tooling-platform"].one("kubernetes_config_map_v1")["data"]
    assert yaml.safe_load(envsubst(entry, default))["spec"]["suspend"] is True
    staging = load_environment("staging")
    assert "GITLAB_RUNNER_SUSPEND" in platform_vars.keys_for(platform_vars.TOOLING, features_off(staging))
    assert yaml.safe_load(envsubst(entry, {**default, "GITLAB_RUNNER_SUSPEND": "false"}))["spec"]["suspend"] is False


def test_application_trusts_the_vault_ca_the_tooling_platform_stack_makes(default_stacks):
    data = default_stacks["application-platform"].one("kubernetes_config_map_v1")["data"]
    inner = re.fullmatch(r"\$\{base64encode\((.+)\)\}", data["VAULT_CA_CERT_B64"]).group(1)
    producer, value = remote_output("${" + inner + "}", default_stacks)
    assert producer == "tooling-platform" and value.startswith("${tls_self_signed_cert.")
    keypair = default_stacks["tooling-platform"].resources("kubernetes_secret_v1")["vault-ca_keypair_002EB436"]
    assert keypair["metadata"] == {"name": "vault-ca-keypair", "namespace": "cert-manager"}
    assert default_stacks["tooling-platform"].one("tls_self_signed_cert")["is_ca_certificate"] is True


def test_terraform_validate_of_platform_stacks(default_stacks):
    missing = {p: missing_providers(default_stacks[p].data) for p in PLATFORM}
    if any(missing.values()):
        names = sorted({f"{m.source} {m.version}" for found in missing.values() for m in found})
        pytest.skip(f"kubernetes/helm/tls provider binaries not on this machine ({', '.join(names)}): "
                    "platform stacks are validated at synth level here; tests/test_terraform_validate.py runs "
                    "terraform validate on them where the providers are installed")


# --- bad input: one line each ---------------------------------------------------------------

def one_line(error: pytest.ExceptionInfo[ConfigError]) -> str:
    text = str(error.value)
    assert "\n" not in text
    return text


def test_platform_stack_for_a_cluster_the_environment_does_not_define(env, tmp_path):
    with pytest.raises(ConfigError) as error:
        ClusterPlatformStack(App(outdir=str(tmp_path)), "x-platform", env, cluster="analytics",
                             tooling=None, applications=())  # refused before either is read
    assert one_line(error).startswith("cluster = 'analytics': is not a cluster of environment 'demo'")
    assert "use one of: tooling, application" in str(error.value)


@pytest.mark.parametrize("version", ["", "2.x", "~2.18.0", "^2.18", ">=2.18.0", "latest", "2.18"])
def test_unpinned_chart_version_stops_synth(version):
    charts = {name: addon.chart for name, addon in registry().items() if addon.chart is not None}
    with pytest.raises(ConfigError) as error:
        validate_addons([charts["aws-load-balancer-controller"], replace(charts["flux"], version=version), charts["flux-sync"]])
    assert one_line(error).startswith(f"addons.flux.version = {version!r}: is not one exact chart version of flux2")


def test_missing_addon_dependency_names_both_addons():
    charts = {name: addon.chart for name, addon in registry().items() if addon.chart is not None}
    with pytest.raises(ConfigError) as error:
        check_dependencies([charts["aws-load-balancer-controller"], charts["flux-sync"]])
    assert "add-on 'flux-sync' needs add-on 'flux', which this stack does not install" in one_line(error)
    with pytest.raises(ConfigError, match="listed after it"):
        check_dependencies([charts["aws-load-balancer-controller"], charts["flux-sync"], charts["flux"]])


@pytest.mark.parametrize("url", ["git@gitlab.example.com:platform/vault-platform.git",
                                 "http://gitlab.example.com/platform/vault-platform.git",
                                 "file:///srv/git/vault-platform.git", "gitlab.example.com/platform"])
def test_git_url_that_is_not_ssh_or_https_stops_synth(url):
    with pytest.raises(ConfigError) as error:
        environment_variant(set_at("gitops", {"url": url}), name="default")
    assert one_line(error).startswith(f"environments/default.toml: gitops.url = {url!r}: is not an ssh:// or https:// Git URL")


def test_ssh_url_without_a_secret_name_is_refused():
    with pytest.raises(ConfigError, match=r"gitops.secret_name = '': is empty but an ssh:// URL needs a deploy key"):
        environment_variant(set_at("gitops", {"secret_name": ""}))


def write(root: Path, path: str, text: str) -> None:
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_text(text)


def test_flux_variable_the_configmap_lacks_stops_synth(env, tmp_path):
    write(tmp_path, "flux/clusters/tooling/kustomization.yaml", "resources: [apps.yaml]\n")
    write(tmp_path, "flux/clusters/tooling/apps.yaml", (
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps}\n"
        "spec:\n  path: ./flux/apps\n  postBuild:\n    substitute: {GIVEN_INLINE: x}\n"))
    write(tmp_path, "flux/apps/kustomization.yaml", "resources: [cm.yaml]\n")
    write(tmp_path, "flux/apps/cm.yaml", (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
        "data: {a: '${AWS_REGION}', b: '${GIVEN_INLINE}', c: '${OPTIONAL:=x}', d: '$${ESCAPED}', e: '${NOT_A_KEY}'}\n"))
    keys = platform_vars.keys_for("tooling")
    with pytest.raises(ConfigError) as error:
        check_flux_variables("tooling", keys, env, tmp_path)
    assert one_line(error).startswith("${NOT_A_KEY} = 'flux/apps/cm.yaml': is substituted by the tooling cluster's Flux tree")
    assert "ConfigMap flux-system/platform-vars has no key NOT_A_KEY" in str(error.value)
    assert set(scan_cluster(tmp_path, "./flux/clusters/tooling").required()) == {"AWS_REGION", "NOT_A_KEY"}


def test_missing_flux_tree_is_nothing_to_check(env, tmp_path):
    check_flux_variables("application", platform_vars.keys_for("application"), env, tmp_path)


def test_configmap_key_without_value_or_value_without_key_stops_synth():
    values = {key: "v" for key in platform_vars.keys_for("application")}
    with pytest.raises(ConfigError) as error:
        configmap_data("application", {**values, "VPC_ID": None})
    assert one_line(error).startswith("platform-vars.VPC_ID = None: vault_platform/gitops/platform_vars.py lists VPC_ID")
    with pytest.raises(ConfigError, match=r"platform-vars.VAULT_ROLE_ARN = '<a value>': has a value .* does not list it for the application"):
        configmap_data("application", {**values, "VAULT_ROLE_ARN": "arn"})
    with pytest.raises(ConfigError) as error:
        configmap_data("application", {**values, "VAULT_CA_CERT_B64": Unavailable("vault_ca", "<none>")})
    assert one_line(error).startswith("vault_ca = '<none>': leaves VAULT_CA_CERT_B64 of the application cluster's")


def test_key_of_a_switched_off_feature_is_left_out_and_may_not_get_a_value():
    tooling = {key: "v" for key in platform_vars.keys_for("tooling")}
    off = {"tooling.efs_enabled"}
    without = {k: v for k, v in tooling.items() if not k.startswith("EFS_")}
    assert set(configmap_data("tooling", without, off)) == set(tooling) - {"EFS_FILE_SYSTEM_ID", "EFS_ACCESS_POINT_ID"}
    with pytest.raises(ConfigError) as error:
        configmap_data("tooling", {**without, "EFS_ACCESS_POINT_ID": "fsap-1"}, off)
    assert one_line(error).startswith("tooling.efs_enabled = False: turns EFS_ACCESS_POINT_ID off")
    # on, the key is required like any other
    with pytest.raises(ConfigError, match=r"^platform-vars.EFS_FILE_SYSTEM_ID = None: vault_platform/gitops/platform_vars.py lists"):
        configmap_data("tooling", {**without, "EFS_ACCESS_POINT_ID": "fsap-1"})


def test_optional_key_used_without_a_default_stops_synth_whatever_the_switch(env, tmp_path):
    write(tmp_path, "flux/clusters/tooling/kustomization.yaml", "resources: [pv.yaml]\n")
    write(tmp_path, "flux/clusters/tooling/pv.yaml", (
        "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: shared}\n"
        "spec:\n  csi: {driver: efs.csi.aws.com, volumeHandle: '${EFS_FILE_SYSTEM_ID}::${EFS_ACCESS_POINT_ID:=none}'}\n"))
    assert env.tooling.efs_enabled  # the key is in this environment's ConfigMap, and still refused
    with pytest.raises(ConfigError) as error:
        check_flux_variables("tooling", platform_vars.keys_for("tooling"), env, tmp_path)
    assert one_line(error).startswith("${EFS_FILE_SYSTEM_ID} = 'flux/clusters/tooling/pv.yaml': is substituted without a default")
    assert "only where tooling.efs_enabled is on; fix: write ${EFS_FILE_SYSTEM_ID:=<default>}" in str(error.value)
    guarded = tmp_path / "guarded"  # another root: the scan is cached per root and entry
    write(guarded, "flux/clusters/tooling/kustomization.yaml", "resources: [cm.yaml]\n")
    write(guarded, "flux/clusters/tooling/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
                                                    "data: {id: '${EFS_FILE_SYSTEM_ID:=}'}\n")
    check_flux_variables("tooling", platform_vars.keys_for("tooling", {"tooling.efs_enabled"}), env, guarded)


def test_the_vault_ca_operators_and_ci_need_is_an_output(default_stacks):
    """VAULT_CACERT's source (docs/ci-trust.md); before, only a cdktf-internal cross-stack output held it."""
    stack = default_stacks["tooling-platform"]
    (certificate,) = stack.resources("tls_self_signed_cert")
    assert stack.outputs()["vault_ca_certificate"]["value"] == f"${{tls_self_signed_cert.{certificate}.cert_pem}}"
    assert "vault_ca_certificate" not in default_stacks["application-platform"].outputs()
