"""The checks themselves: GIVEN a small broken fixture, THEN the check fails and its
message names the file and the fix. Proves the suite would catch real mistakes."""

import copy
import textwrap

import pytest

import flux_checks
import flux_schemas


def write(tmp_path, files):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return tmp_path


DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "n"},
    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d"}},
             "template": {"metadata": {"labels": {"app": "d"}},
                          "spec": {"containers": [{"name": "c", "image": "i:1"}]}}},
}
HELMRELEASE = {
    "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
    "metadata": {"name": "x", "namespace": "flux-system"},
    "spec": {"interval": "1h", "chart": {"spec": {"chart": "x", "version": "1.2.3",
             "sourceRef": {"kind": "HelmRepository", "name": "r"}}}, "values": {"any": {"thing": 1}}},
}
PEER_AUTH = {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
             "metadata": {"name": "default", "namespace": "istio-system"},
             "spec": {"mtls": {"mode": "STRICT"}}}
EXTERNAL_SECRET = {
    "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": "e", "namespace": "n"},
    "spec": {"secretStoreRef": {"kind": "ClusterSecretStore", "name": "vault"},
             "data": [{"secretKey": "k", "remoteRef": {"key": "kv/a", "property": "p"}}]},
}
CERTIFICATE = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate", "metadata": {"name": "c", "namespace": "n"},
               "spec": {"secretName": "s", "issuerRef": {"kind": "ClusterIssuer", "name": "ca"}, "dnsNames": ["a"]}}


def broken(obj, path, value=None, rename=None):
    """A copy of obj with the key at `path` renamed (a typo) or its value replaced."""
    obj = copy.deepcopy(obj)
    *parents, last = path
    node = obj
    for key in parents:
        node = node[key]
    if rename:
        node[rename] = node.pop(last)
    else:
        node[last] = value
    return obj


@pytest.mark.parametrize("good", [DEPLOYMENT, HELMRELEASE, PEER_AUTH, EXTERNAL_SECRET, CERTIFICATE],
                         ids=lambda o: o["kind"])
def test_valid_fixtures_pass(good):
    assert flux_schemas.validate(good) == []


@pytest.mark.parametrize("bad, expected", [
    (broken(DEPLOYMENT, ["spec", "replicas"], rename="replica"), "replica"),
    (broken(DEPLOYMENT, ["spec", "replicas"], value="3"), "replicas"),
    (broken(DEPLOYMENT, ["kind"], value="Deploymnet"), "no kind Deploymnet"),
    (broken(HELMRELEASE, ["spec", "chart"], rename="chartt"), "spec.chartt: unknown field"),
    (broken(HELMRELEASE, ["spec", "chart", "spec", "sourceRef", "kind"], value="HelmRepo"), "sourceRef.kind"),
    (broken(HELMRELEASE, ["kind"], value="HelmRelaese"), "no CRD model for HelmRelaese"),
    (broken(PEER_AUTH, ["spec", "mtls", "mode"], value="STRICTT"), "mode"),
    (broken(PEER_AUTH, ["spec", "mtls"], rename="mTLS"), "spec.mTLS: unknown field"),
    (broken(EXTERNAL_SECRET, ["spec", "data", 0, "remoteRef", "property"], rename="prop"), "prop"),
    (broken(EXTERNAL_SECRET, ["kind"], value="ExternalSecrets"), "no schema for ExternalSecrets"),
    (broken(CERTIFICATE, ["spec", "dnsNames"], rename="dnsName"), "spec.dnsName: unknown field"),
], ids=["k8s-typo-field", "k8s-wrong-type", "k8s-typo-kind", "flux-typo-field", "flux-bad-enum",
        "flux-typo-kind", "istio-bad-enum", "istio-typo-field", "eso-typo-field", "eso-typo-kind",
        "cert-manager-typo-field"])
def test_validator_rejects_broken_objects(bad, expected):
    problems = flux_schemas.validate(bad)
    assert problems and any(expected in p for p in problems), problems


def test_undefined_variable_names_the_file_and_the_fix(tmp_path):
    write(tmp_path, {
        "kustomization.yaml": "resources: [cm.yaml]\n",
        "cm.yaml": """\
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: c}
            data: {region: "${AWS_REGION}", oops: "${NOT_A_PLATFORM_VAR}"}
            """,
    })
    objects = flux_checks.build(tmp_path)
    (message,) = flux_checks.check_variables(tmp_path, objects, {"AWS_REGION"}, "tooling")
    assert "cm.yaml" in message and "NOT_A_PLATFORM_VAR" in message
    assert "platform_vars.py" in message


def test_kustomization_using_vars_without_substitute_from_fails():
    ks = {"kind": "Kustomization", "metadata": {"name": "vault"}, "spec": {}}
    objects = [{"kind": "ConfigMap", "data": {"a": "${AWS_REGION}"}}]
    (message,) = flux_checks.check_substitute_from("flux/clusters/tooling/vault.yaml", ks, objects)
    assert "flux/clusters/tooling/vault.yaml" in message and "substituteFrom" in message
    ks["spec"]["postBuild"] = {"substituteFrom": [{"kind": "ConfigMap", "name": "platform-vars"}]}
    assert flux_checks.check_substitute_from("x", ks, objects) == []


@pytest.mark.parametrize("version", [">=1.0.0", "1.x", "~1.2", "*", "1.2", ""])
def test_unpinned_chart_names_the_file_and_the_fix(tmp_path, version):
    write(tmp_path, {"kustomization.yaml": "resources: [hr.yaml]\n", "hr.yaml": f"""\
        apiVersion: helm.toolkit.fluxcd.io/v2
        kind: HelmRelease
        metadata: {{name: x, namespace: flux-system}}
        spec:
          interval: 1h
          chart:
            spec:
              chart: vault
              version: "{version}"
              sourceRef: {{kind: HelmRepository, name: hashicorp}}
        """})
    (obj,) = flux_checks.build(tmp_path)
    (message,) = flux_checks.check_chart_pinned(tmp_path, obj)
    assert "hr.yaml" in message and "exact" in message and "fix:" in message


def test_kustomization_that_does_not_build_names_the_file(tmp_path):
    write(tmp_path, {"kustomization.yaml": "resources: [missing.yaml]\n"})
    with pytest.raises(flux_checks.BuildError) as err:
        flux_checks.build(tmp_path)
    assert "kustomization.yaml does not build" in str(err.value) and "missing.yaml" in str(err.value)


def test_secret_with_data_is_refused(tmp_path):
    write(tmp_path, {"kustomization.yaml": "resources: [s.yaml]\n", "s.yaml": """\
        apiVersion: v1
        kind: Secret
        metadata: {name: s}
        stringData: {password: hunter2}
        """})
    (obj,) = flux_checks.build(tmp_path)
    (message,) = flux_checks.check_no_secret_data(tmp_path, obj)
    assert "s.yaml" in message and "ExternalSecret" in message


def test_vault_check_wants_a_retry_join_per_replica_and_awskms():
    config = 'storage "raft" {\n retry_join { leader_api_addr = "https://vault-0.vault-internal:8200" }\n}\n'
    hr = {"kind": "HelmRelease", "metadata": {"name": "vault"},
          "spec": {"values": {"server": {"ha": {"enabled": True, "replicas": 2,
                                                "raft": {"enabled": True, "config": config}}}}}}
    problems = flux_checks.check_vault_ha(hr)
    assert any("vault-1" in p for p in problems)
    assert any("awskms" in p for p in problems)


def test_mesh_check_refuses_permissive_mtls_and_missing_deny():
    permissive = broken(PEER_AUTH, ["spec", "mtls", "mode"], value="PERMISSIVE")
    assert len(flux_checks.check_mesh_security([permissive])) == 2
