"""The one function that moves the HelmRelease's raft HCL from a pod to a laptop
(vault_platform.vaultlab.raft_config.lab_server_config): every substitution, and nothing else."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from vault_platform.vaultlab.raft_config import (
    LabConfigError,
    LabSite,
    NodePorts,
    chart_environment,
    lab_server_config,
    load_release,
)

pytestmark = pytest.mark.integration

SITE = LabSite(root=Path("/lab"), nodes=(NodePorts(18200, 18201), NodePorts(28200, 28201), NodePorts(38200, 38201)),
               kms_endpoint="http://127.0.0.1:5000", region="eu-west-1", kms_key_id="lab-key")


@pytest.fixture(scope="module")
def release():
    return load_release()


def test_the_lab_runs_the_helmreleases_own_hcl(release):
    assert 'storage "raft"' in release.raft_config and release.replicas == 3
    config = lab_server_config(release, 1, SITE)
    # Everything not substituted is the HelmRelease's text, line for line.
    untouched = [line for line in release.raft_config.splitlines()
                 if not re.search(r"address|_file|path|leader_api_addr|\$\{|service_registration|seal|listener", line)]
    for line in untouched:
        assert line in config


def test_listener_and_cluster_addresses_are_the_nodes_loopback_ports(release):
    config = lab_server_config(release, 1, SITE)
    assert re.search(r'\baddress\s*=\s*"127.0.0.1:28200"', config)
    assert re.search(r'\bcluster_address\s*=\s*"127.0.0.1:28201"', config)
    assert "[::]" not in config


def test_tls_files_are_the_labs_certificate_and_ca(release):
    config = lab_server_config(release, 0, SITE)
    assert '"/lab/tls/tls.crt"' in config and '"/lab/tls/tls.key"' in config
    assert config.count('leader_ca_cert_file = "/lab/tls/ca.crt"') == 3
    assert "/vault/userconfig" not in config


def test_raft_path_is_the_nodes_own_directory(release):
    assert re.search(r'\bpath\s*=\s*"/lab/raft-2"', lab_server_config(release, 2, SITE))
    assert "/vault/data" not in lab_server_config(release, 2, SITE)


def test_retry_join_names_every_lab_node(release):
    config = lab_server_config(release, 0, SITE)
    for index, node in enumerate(SITE.nodes):
        # The pod's name (each node's /etc/hosts points it at 127.0.0.1), the node's lab port.
        assert f'leader_api_addr     = "https://vault-{index}.vault-internal:{node.api}"' in config
    assert ":8200" not in config


def test_the_seal_gets_the_emulators_endpoint_region_and_key(release):
    seal = re.search(r'seal "awskms" \{(.*?)\}', lab_server_config(release, 0, SITE), re.DOTALL).group(1)
    assert 'endpoint = "http://127.0.0.1:5000"' in seal
    assert '"eu-west-1"' in seal and '"lab-key"' in seal and "${" not in seal


def test_service_registration_is_removed_and_the_openbao_settings_added(release):
    config = lab_server_config(release, 0, SITE)
    assert "service_registration" not in config
    assert "disable_unauthed_generate_root_endpoints = false" in config
    assert "\nunsafe_allow_api_audit_creation = true\n" in config
    assert config.rstrip().endswith("disable_standby_reads = true")  # as HashiCorp Vault's standbys: no local reads
    for setting in ("unsafe_allow_api_audit_creation", "disable_standby_reads"):
        assert setting not in release.raft_config  # never in the HelmRelease


def test_what_the_chart_sets_outside_the_hcl_is_in_the_environment():
    env = chart_environment(2, SITE)
    assert env["VAULT_API_ADDR"] == "https://127.0.0.1:38200" == env["BAO_API_ADDR"]
    assert env["VAULT_CLUSTER_ADDR"] == "https://127.0.0.1:38201"
    assert env["VAULT_RAFT_NODE_ID"] == "vault-2"


@pytest.mark.parametrize(("old", "new", "named"), [
    ('address         = "[::]:8200"', "", "listener `address`"),
    ('path = "/vault/data"', "", "raft `path`"),
    ('service_registration "kubernetes" {}', "", 'service_registration "kubernetes"'),
    ('seal "awskms"', 'seal "transit"', 'seal "awskms"'),
])
def test_an_edit_that_moves_a_substituted_setting_stops_the_lab_with_one_line(release, old, new, named):
    assert old in release.raft_config
    edited = dataclasses.replace(release, raft_config=release.raft_config.replace(old, new))
    with pytest.raises(LabConfigError) as error:
        lab_server_config(edited, 0, SITE)
    assert named in str(error.value) and "helmrelease.yaml server.ha.raft.config" in str(error.value)


def test_a_new_flux_variable_in_the_hcl_needs_a_lab_value(release):
    edited = dataclasses.replace(release, raft_config=release.raft_config.replace('"${VAULT_KMS_KEY_ID}"', '"${NEW_KEY}"'))
    with pytest.raises(LabConfigError, match=r"\$\{NEW_KEY\} has no lab value"):
        lab_server_config(edited, 0, SITE)
