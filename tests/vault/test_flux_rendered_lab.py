"""The lab runs what the cluster runs: the vault-config Kustomization as Flux renders it, a
server certificate with exactly certificate.yaml's names, and Jobs that reach Vault by the
manifests' host names, checked by their own TLS library (Python's ssl, OpenSSL's rules).

Before the fixes of the Flux tree these were the lab's findings, each stopping the bootstrap:
the init Job never reached vault-0 (``Hostname mismatch ... 'vault-0.vault-internal'``), the
configure Job was refused (``DATABASE_PORT: value 1 is a YAML int``), and configure's database
bootstrap failed (``database/creds/... -> HTTP 500``: ``DO $ BEGIN``)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from tests.vault.conftest import Bootstrapped
from vault_platform.vaultlab.flux_tree import one, rendered, vault_certificate_names

pytestmark = pytest.mark.integration
REPO_ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import os, ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=os.environ["VAULT_CACERT"])
try:
    with urllib.request.urlopen(sys.argv[1] + "/v1/sys/health?standbyok=true", context=ctx, timeout=10) as r:
        print(r.status)
except urllib.error.HTTPError as err:
    print(err.code)
except urllib.error.URLError as err:
    print(err.reason)
"""


def test_the_server_certificate_carries_exactly_the_names_of_certificate_yaml(bootstrapped: Bootstrapped) -> None:
    certificate = x509.load_pem_x509_certificate(bootstrapped.lab.tls.cert.read_bytes())  # type: ignore[union-attr]
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns, ips = vault_certificate_names(bootstrapped.lab.base_platform_vars)
    assert sorted(names.get_values_for_type(x509.DNSName)) == sorted(dns)
    assert sorted(str(ip) for ip in names.get_values_for_type(x509.IPAddress)) == sorted(ips)
    assert "vault.tooling.internal" in dns  # ${VAULT_HOSTNAME}, substituted as Flux does


def test_the_jobs_are_the_rendered_ones(bootstrapped: Bootstrapped) -> None:
    objects = bootstrapped.jobs.objects()
    for job in ("init", "configure"):
        spec = bootstrapped.jobs.spec(job)
        assert spec.env == {e["name"]: e["value"] for e in
                            one(objects, "Job", f"vault-{job}")["spec"]["template"]["spec"]["containers"][0]["env"]}
    configure = bootstrapped.jobs.spec("configure")
    assert configure.env["VAULT_ADDR"] == "https://vault-active.vault.svc:8200"
    assert configure.env["DATABASE_PORT"] == bootstrapped.jobs.flux_values["DATABASE_PORT"]
    # The mounted scripts are the rendered ConfigMap's data (named with kustomize's hash).
    scripts = configure.volumes["scripts"]["configMap"]["name"]
    assert scripts.startswith("vault-bootstrap-scripts-")
    kustomization = yaml.safe_load((REPO_ROOT / "flux" / "infrastructure" / "vault-config" / "kustomization.yaml").read_text())
    generated = next(g for g in kustomization["configMapGenerator"] if g["name"] == "vault-bootstrap-scripts")
    assert set(one(objects, "ConfigMap", scripts)["data"]) == {Path(f).name for f in generated["files"]}


def _probe(bootstrapped: Bootstrapped, url: str, extra_names: dict[str, str] | None = None) -> str:
    """What a client in the init Job's pod (its env, its cluster DNS) gets for ``url``."""
    _spec, env, _argv = bootstrapped.jobs.environment("init")
    if extra_names:
        env["VAULTLAB_RESOLVE"] = json.dumps({**json.loads(env["VAULTLAB_RESOLVE"]), **extra_names})
    result = subprocess.run([sys.executable, "-c", PROBE, url], env=env, capture_output=True, text=True, timeout=30)
    return (result.stdout + result.stderr).strip()


def test_clients_reach_vault_by_the_manifests_names_and_check_them(bootstrapped: Bootstrapped) -> None:
    init_addr = bootstrapped.jobs.spec("init").env["VAULT_ADDR"]
    assert init_addr == "https://vault-0.vault-internal:8200"
    assert _probe(bootstrapped, init_addr) in {"200", "429"}
    assert _probe(bootstrapped, "https://vault-active.vault.svc:8200") == "200"
    assert _probe(bootstrapped, bootstrapped.lab.platform_vars()["VAULT_ADDR"]) == "200"
    # The same node under a name the certificate does not carry: the client's own check refuses.
    node0 = json.loads(bootstrapped.jobs.environment("init")[1]["VAULTLAB_RESOLVE"])["vault-0.vault-internal:8200"]
    refused = _probe(bootstrapped, "https://vault-9.vault-internal:8200", {"vault-9.vault-internal:8200": node0})
    assert "Hostname mismatch" in refused, refused


def test_a_number_substituted_into_an_env_value_stops_both_jobs(bootstrapped: Bootstrapped) -> None:
    """What the API server does with `value: 5432`: the lab refuses the rendered Jobs."""
    from vault_platform.vaultlab.cluster import LabError
    from vault_platform.vaultlab.jobs import JobSpec

    job = one(rendered("vault-config", bootstrapped.jobs.flux_values), "Job", "vault-configure")
    text = yaml.safe_dump(job).replace(f"value: '{bootstrapped.jobs.flux_values['DATABASE_PORT']}'",
                                       f"value: {bootstrapped.jobs.flux_values['DATABASE_PORT']}")
    with pytest.raises(LabError, match="DATABASE_PORT: value 1 is a YAML int"):
        JobSpec.from_manifest(yaml.safe_load(text))


def test_raft_peers_join_by_the_pod_names_and_go_checks_them(kms_emulator) -> None:
    """retry_join dials https://vault-<i>.vault-internal (each node's /etc/hosts); with a
    certificate lacking those names (and their wildcard) Go's TLS in the joining node refuses
    the leader: a join by address alone would not have noticed."""
    import time
    import unittest.mock

    from vault_platform.vaultlab import cluster
    from vault_platform.vaultlab.cluster import VaultLab

    def without_pod_names(platform_vars):
        dns, ips = vault_certificate_names(platform_vars)
        return [name for name in dns if "vault-internal" not in name], ips

    with unittest.mock.patch.object(cluster, "vault_certificate_names", without_pod_names), \
            VaultLab(emulator=kms_emulator) as lab:
        lab.initialise()
        deadline, refused = time.monotonic() + 60, ""
        while time.monotonic() < deadline and not refused:
            logs = "".join(node.log_path.read_text(errors="replace") for node in lab.nodes[1:])
            refused = next((line for line in logs.splitlines() if "x509" in line), "")
            time.sleep(1)
    assert re.search(r"x509: certificate is valid for .*, not vault-\d\.vault-internal", refused), refused
