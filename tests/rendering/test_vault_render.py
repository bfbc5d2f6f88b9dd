"""The Vault chart, rendered: the server config the pods get is the HCL the Vault lab starts
from, and the application clusters' injector webhook admits the demo app's pods."""

from __future__ import annotations

import pytest

from vault_platform.gitops.flux_envsubst import envsubst
from vault_platform.rendering.platform_values import sample_values
from vault_platform.rendering.sync_order import rules_match, selects
from vault_platform.vaultlab.raft_config import load_release
from vault_platform.config.load import load_environment

from tests.rendering.conftest import CLUSTERS

# Several seconds of helm, kustomize and schema checks (docs/kubernetes-rendering.md "Cost"): the
# full tier only; one xdist worker, so each cluster renders once per session.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("rendering")]

TOOLING = [(env, key) for env, key in CLUSTERS if key == "tooling"]
APPLICATIONS = [(env, key) for env, key in CLUSTERS if key != "tooling"]

# What the chart adds to server.ha.raft.config (vault-0.30.0 templates/_helpers.tpl appends it
# when the config does not set it). The lab's raft nodes (vaultlab/raft_config.py
# lab_server_config) start from the HelmRelease's HCL without it: for the tracker, item 0.
CHART_APPENDS = "\n\ndisable_mlock = true"


def _objects(render, release_name):
    release = next(r for r in render.releases if r.name == release_name)
    return render.objects_of(release)


@pytest.mark.parametrize(("environment", "key"), TOOLING, ids=[env for env, _ in TOOLING])
def test_the_rendered_server_config_is_the_hcl_the_lab_runs(cluster_render, environment, key):
    render = cluster_render(environment, key)
    configmap = next(o for o in _objects(render, "vault") if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "vault-config")
    rendered = configmap["data"]["extraconfig-from-values.hcl"]
    flux_substituted = envsubst(load_release().raft_config, sample_values(load_environment(environment), render.cluster))
    assert rendered == flux_substituted.strip() + CHART_APPENDS


def _webhook_admits(webhook: dict, namespace_labels: dict, pod_labels: dict) -> bool:
    return (rules_match(webhook, "", "pods") and selects(webhook.get("namespaceSelector"), namespace_labels)
            and selects(webhook.get("objectSelector"), pod_labels))


@pytest.mark.parametrize(("environment", "key"), APPLICATIONS, ids=[f"{e}-{k}" for e, k in APPLICATIONS])
def test_the_injector_webhook_admits_the_demo_pods(cluster_render, environment, key):
    render = cluster_render(environment, key)
    [config] = [o for o in _objects(render, "vault-injector") if o["kind"] == "MutatingWebhookConfiguration"]
    objects = [obj for _, obj in render.all_objects()]
    namespace = next(o for o in objects if o["kind"] == "Namespace" and o["metadata"]["name"] == "demo")
    namespace_labels = {**namespace["metadata"].get("labels", {}), "kubernetes.io/metadata.name": "demo"}
    for name in ("demo-app",):
        deployment = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == name)
        template = deployment["spec"]["template"]
        assert template["metadata"]["annotations"]["vault.hashicorp.com/agent-inject"] == "true"
        assert any(_webhook_admits(hook, namespace_labels, template["metadata"]["labels"]) for hook in config["webhooks"]), \
            f"no webhook of {config['metadata']['name']} is called for {name}'s pods"
        # The service its clientConfig names is one the chart renders, in the release's namespace.
        service = config["webhooks"][0]["clientConfig"]["service"]
        assert any(o["kind"] == "Service" and o["metadata"]["name"] == service["name"]
                   and o["metadata"]["namespace"] == service["namespace"] for o in _objects(render, "vault-injector"))


def test_a_selector_that_misses_the_demo_pods_is_caught():
    webhook = {"rules": [{"operations": ["CREATE"], "resources": ["pods"], "apiGroups": [""]}],
               "objectSelector": {"matchLabels": {"vault-inject": "enabled"}}}
    assert not _webhook_admits(webhook, {}, {"app": "demo-app"})
    assert _webhook_admits({**webhook, "objectSelector": None}, {}, {"app": "demo-app"})
