"""Properties of the rendered tree: pinned charts, no secret values, Vault HA, mesh security."""

import re

import flux_checks


def _all(rendered):
    for directory, objects in rendered.items():
        if isinstance(objects, list):
            for obj in objects:
                yield directory, obj


def _find(rendered, kind, name):
    return [o for _, o in _all(rendered) if o.get("kind") == kind and o["metadata"]["name"] == name]


def test_every_chart_version_is_exact(rendered):
    problems = [p for d, o in _all(rendered) for p in flux_checks.check_chart_pinned(d, o)]
    assert not problems, "\n".join(problems)
    assert any(o.get("kind") == "HelmRelease" for _, o in _all(rendered))


def test_no_secret_values_in_git(rendered):
    problems = [p for d, o in _all(rendered) for p in flux_checks.check_no_secret_data(d, o)]
    assert not problems, "\n".join(problems)


def test_vault_is_ha_raft_with_awskms_seal(rendered):
    (hr,) = _find(rendered, "HelmRelease", "vault")
    assert not flux_checks.check_vault_ha(hr)
    values = hr["spec"]["values"]["server"]
    assert hr["spec"]["releaseName"] == "vault", "retry_join and the certificate assume pods vault-N"
    assert values["ha"]["replicas"] == 3
    assert values["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"] == "${VAULT_ROLE_ARN}"
    # Vault's data must outlive its claims: the retained class the platform stack creates.
    from vault_platform.stacks.platform import RETAINED_STORAGE_CLASS

    assert values["dataStorage"]["storageClass"] == values["auditStorage"]["storageClass"] == RETAINED_STORAGE_CLASS
    anti = values["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti[0]["topologyKey"] == "topology.kubernetes.io/zone"
    assert "tls_disable     = false" in values["ha"]["raft"]["config"]


def test_vault_nlb_is_internal_and_checks_vault_health(rendered):
    (svc,) = _find(rendered, "Service", "vault-nlb")
    notes = svc["metadata"]["annotations"]
    prefix = "service.beta.kubernetes.io/aws-load-balancer-"
    assert notes[prefix + "scheme"] == "internal"
    assert notes[prefix + "nlb-target-type"] == "ip"
    assert notes[prefix + "healthcheck-success-codes"] == "200,429"
    assert notes[prefix + "healthcheck-path"] == "/v1/sys/health"
    assert notes[prefix + "healthcheck-protocol"] == "HTTPS"
    assert notes["external-dns.alpha.kubernetes.io/hostname"] == "${VAULT_HOSTNAME}"
    assert svc["spec"]["ports"] == [{"name": "https", "port": 8200, "targetPort": 8200, "protocol": "TCP"}]


def test_mesh_has_strict_mtls_and_default_deny(rendered):
    objects = [o for _, o in _all(rendered)]
    assert not flux_checks.check_mesh_security(objects)


def test_meshed_namespaces_select_istio_by_revision_tag(rendered):
    for name in ("demo", "istio-ingress"):
        (ns,) = _find(rendered, "Namespace", name)
        assert ns["metadata"]["labels"]["istio.io/rev"] == "stable"
    (istiod,) = _find(rendered, "HelmRelease", "istiod-1-30")
    assert istiod["spec"]["values"]["revisionTags"] == ["stable"]
    assert istiod["spec"]["values"]["meshConfig"]["defaultConfig"]["holdApplicationUntilProxyStarts"] is True


def test_demo_app_gets_rotating_database_credentials_from_vault(rendered):
    (deploy,) = _find(rendered, "Deployment", "demo-app")
    notes = deploy["spec"]["template"]["metadata"]["annotations"]
    assert notes["vault.hashicorp.com/agent-inject"] == "true"
    assert notes["vault.hashicorp.com/role"] == "demo-app"
    assert notes["vault.hashicorp.com/agent-inject-secret-db-creds"] == "database/creds/demo-app"
    assert 'secret "database/creds/demo-app"' in notes["vault.hashicorp.com/agent-inject-template-db-creds"]


def test_gitlab_runner_token_comes_from_vault(rendered):
    (es,) = _find(rendered, "ExternalSecret", "gitlab-runner-token")
    assert es["spec"]["data"][0]["remoteRef"] == {"key": "kv/gitlab/runner", "property": "registrationToken"}
    (hr,) = _find(rendered, "HelmRelease", "gitlab-runner")
    assert hr["spec"]["values"]["runners"]["secret"] == es["spec"]["target"]["name"]


def test_gitlab_runner_build_pods_run_with_no_kubernetes_rights(rendered):
    """A CI job must not read the runner's token: its pod's account has no binding and no API token."""
    (hr,) = _find(rendered, "HelmRelease", "gitlab-runner")
    config = hr["spec"]["values"]["runners"]["config"]
    build_account = re.search(r'service_account = "([^"]+)"', config).group(1)
    assert build_account != hr["spec"]["values"]["serviceAccount"]["name"], "build pods share the manager's rights"
    (account,) = _find(rendered, "ServiceAccount", build_account)
    assert account["automountServiceAccountToken"] is False
    bindings = [o for objects in rendered.values() if isinstance(objects, list) for o in objects
                if o.get("kind") in ("RoleBinding", "ClusterRoleBinding")]
    assert not [b for b in bindings if any(s.get("name") == build_account for s in b.get("subjects", []))]


def test_vault_injector_release_renders_no_server_objects(rendered):
    (hr,) = _find(rendered, "HelmRelease", "vault-injector")
    server = hr["spec"]["values"]["server"]
    assert server == {"enabled": False, "serviceAccount": {"create": False}, "authDelegator": {"enabled": False}}
