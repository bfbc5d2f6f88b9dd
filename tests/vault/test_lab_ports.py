"""A port taken between free_port() and the server's bind: the real OpenBao fails to bind it,
and the lab (the raft cluster, or the single dev-style server of the database tests) starts
again on other ports instead of failing the tests that needed it."""

from __future__ import annotations

import socket

import pytest

from vault_platform.ops.emulator import Emulator
from vault_platform.vaultlab import VaultLab, cluster, single_node
from vault_platform.vaultlab.cluster import LabError

pytestmark = pytest.mark.integration


@pytest.fixture
def taken_port() -> socket.socket:
    """A port another process holds, as one that took it after free_port() found it free."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("0.0.0.0", 0))  # noqa: S104 - every address: the node's listener cannot share it
    holder.listen()
    yield holder
    holder.close()


def test_a_node_whose_port_was_taken_is_started_again_on_another(
        kms_emulator: Emulator, taken_port: socket.socket, monkeypatch: pytest.MonkeyPatch) -> None:
    port = taken_port.getsockname()[1]
    picks = iter([port])  # the first pick is the taken one, then free ones again
    real_free_port = cluster.free_port
    monkeypatch.setattr(cluster, "free_port", lambda: next(picks, None) or real_free_port())
    with VaultLab(emulator=kms_emulator) as lab:
        assert lab.health() == [501, 501, 501]
        assert port not in (lab.nodes[0].ports.api, lab.nodes[0].ports.cluster)


def test_a_port_taken_at_every_attempt_fails_with_the_nodes_own_line(
        kms_emulator: Emulator, taken_port: socket.socket, monkeypatch: pytest.MonkeyPatch) -> None:
    port = taken_port.getsockname()[1]
    calls = iter(range(1_000))
    real_free_port = cluster.free_port
    # Each start picks an API port, then a cluster port, per node: vault-0's API port is taken every time.
    monkeypatch.setattr(cluster, "free_port", lambda: port if next(calls) % 6 == 0 else real_free_port())
    monkeypatch.setattr(cluster, "PORT_ATTEMPTS", 2)  # a retry, then the last attempt's failure: 3 s a start
    lab = VaultLab(emulator=kms_emulator)
    with pytest.raises(LabError, match=cluster.PORT_TAKEN):
        lab.start()
    assert next(calls) == 6 * 2, "each attempt picked the ports of three nodes"
    assert lab.root is None and not any(node.running for node in lab.nodes), "nothing left running"


def test_the_single_server_whose_port_was_taken_is_started_again_on_another(
        taken_port: socket.socket, monkeypatch: pytest.MonkeyPatch) -> None:
    port = taken_port.getsockname()[1]
    picks = iter([port])
    real_free_port = single_node.free_port
    monkeypatch.setattr(single_node, "free_port", lambda: next(picks, None) or real_free_port())
    with single_node.running_vault() as server:
        assert not server.addr.endswith(f":{port}")
        assert server.call("GET", "sys/health")["initialized"] is True
