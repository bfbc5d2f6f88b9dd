"""The raft cluster Flux brings up, started from the HelmRelease's own HCL (vault_platform.vaultlab):
auto-unseal through KMS, health codes as the NLB and the readiness probe read them, three voters,
a new leader when the active node stops, and a sealed node when KMS refuses to decrypt."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest
import yaml

from vault_platform.vaultlab import VaultLab
from vault_platform.vaultlab.cluster import enforcing_emulator
from vault_platform.gitops.vault_checks import FLUX_DIR

pytestmark = pytest.mark.integration

NLB_SERVICE = FLUX_DIR / "infrastructure" / "vault" / "service-nlb.yaml"


def nlb_health_check() -> tuple[str, set[int]]:
    """The path and success codes the AWS load balancer controller gives the NLB's target group."""
    annotations = yaml.safe_load(NLB_SERVICE.read_text())["metadata"]["annotations"]
    prefix = "service.beta.kubernetes.io/aws-load-balancer-healthcheck-"
    codes = {int(c) for c in annotations[prefix + "success-codes"].split(",")}
    return annotations[prefix + "path"], codes


def readiness_query(lab: VaultLab) -> str:
    path = lab.release.readiness_path
    return path[path.index("?"):] if "?" in path else ""


def nlb_serves(lab: VaultLab, index: int) -> bool:
    path, codes = nlb_health_check()
    assert path.startswith("/v1/")
    node = lab.nodes[index]
    code = node.client.request("GET", path[len("/v1/"):]).status
    return code in codes


def ready(lab: VaultLab, index: int) -> bool:
    """What the kubelet's readinessProbe sees: HTTP 200-399 is ready."""
    code = lab.nodes[index].client.health(readiness_query(lab))
    return code is not None and 200 <= code < 400


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[VaultLab, str]]:
    # Its own emulator, enforcing IAM, so that KMS can refuse Vault (last test).
    emulator = enforcing_emulator()
    try:
        with VaultLab(emulator=emulator) as lab:
            lab.cluster_facts = {"before_init": lab.health(),  # type: ignore[attr-defined]
                                 "nlb_before_init": [nlb_serves(lab, i) for i in range(len(lab.nodes))],
                                 "ready_before_init": [ready(lab, i) for i in range(len(lab.nodes))]}
            root = lab.initialise()["root_token"]
            yield lab, root
    finally:
        emulator.stop()


def test_every_node_answers_501_before_init_ready_for_the_probe_but_not_for_the_nlb(cluster):
    lab, _ = cluster
    facts = lab.cluster_facts
    assert facts["before_init"] == [501, 501, 501]
    # The init Job reaches vault-0 through the headless Service only if the probe passes...
    assert facts["ready_before_init"] == [True, True, True]
    # ...while the NLB keeps clients off every uninitialised node.
    assert facts["nlb_before_init"] == [False, False, False]


def test_auto_unseal_through_kms_gives_one_active_node_and_unsealed_standbys(cluster):
    lab, _ = cluster
    codes = lab.wait_for_health({200, 429}, timeout=90)
    assert sorted(codes) == [200, 429, 429]
    assert all(nlb_serves(lab, i) for i in range(3)), "the NLB sends traffic to the active node and standbys"
    assert all(ready(lab, i) for i in range(3))
    # No unseal key was ever given: the seal is awskms, against the emulator's key.
    status = lab.nodes[0].client.request("GET", "sys/seal-status").body
    assert status["type"] == "awskms" and status["sealed"] is False
    assert status["recovery_seal"] is True


def test_retry_join_gives_three_voters(cluster):
    lab, root = cluster
    client = lab.client(root)
    deadline = time.monotonic() + 90
    while True:
        servers = client.request("GET", "sys/storage/raft/configuration").body["data"]["config"]["servers"]
        if len(servers) == 3 and all(s["voter"] for s in servers):
            break
        assert time.monotonic() < deadline, f"raft peers after 90 s: {servers}"
        time.sleep(0.2)
    assert sorted(s["node_id"] for s in servers) == ["vault-0", "vault-1", "vault-2"]


def test_a_new_leader_takes_over_when_the_active_node_stops(cluster):
    lab, root = cluster
    test_retry_join_gives_three_voters(cluster)  # a quorum of voters, or no one can take over
    old = lab.active_node()
    old.stop(signal.SIGTERM)  # what the preStop hook sends
    new = lab.active_node(timeout=60)
    assert new.index != old.index
    assert new.client.request("GET", "sys/leader").body["is_self"] is True
    old.start()
    lab.wait_for_health({429}, nodes=[old], timeout=60)
    assert nlb_serves(lab, old.index), "back as an unsealed standby, the NLB serves it again"


def test_a_restarted_node_stays_sealed_while_kms_refuses_to_decrypt(cluster):
    lab, root = cluster
    # Whatever ran before on this lab (a node restarted by the leader test, a fresh lab still
    # joining), every node must be unsealed, active or standby, before one is picked.
    codes = lab.wait_for_health({200, 429}, timeout=90)
    standby = next(n for n, code in zip((n for n in lab.nodes if n.running), codes) if code == 429)
    standby.stop()
    lab.refuse_kms_decrypt()
    try:
        standby.start()
        assert lab.wait_for_health({503}, nodes=[standby], timeout=60) == [503]
        assert not nlb_serves(lab, standby.index), "the NLB must not send clients to a sealed node"
        assert ready(lab, standby.index), "a sealed pod stays Ready (sealedcode=204): the probe only asks 'is the API up'"
    finally:
        lab.refuse_kms_decrypt(False)
    standby.stop()
    standby.start()
    assert lab.wait_for_health({429}, nodes=[standby], timeout=60) == [429]
