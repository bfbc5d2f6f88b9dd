"""The Vault server pod's TLS reload sidecar.

Behaviour: the real script, run by `sh` against a directory laid out as the kubelet lays out a
secret volume, signals a real process named `vault`. Structure: the rendered HelmRelease puts
the sidecar where it can see and signal Vault, and nowhere else.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import flux_checks

VAULT_DIR = flux_checks.FLUX_DIR / "infrastructure" / "vault"
SCRIPT = VAULT_DIR / "scripts" / "reload-on-cert-change.sh"
SIDECAR = "tls-reloader"
POLL_SECONDS = 1
# Long enough for two polls: a signal the script should not send would have been sent.
QUIET = 2.2 * POLL_SECONDS

CERT_A = {"tls.crt": "certificate A\n", "tls.key": "key A\n", "ca.crt": "ca\n"}
CERT_B = {"tls.crt": "certificate B\n", "tls.key": "key B\n", "ca.crt": "ca\n"}

# Stands in for the Vault server: records each SIGHUP it receives, one line each.
VAULT_STUB = """\
import signal, sys
log = open(sys.argv[1], "a", buffering=1)
signal.signal(signal.SIGHUP, lambda *_: log.write("HUP\\n"))
log.write("ready\\n")
while True:
    signal.pause()
"""


class SecretVolume:
    """A secret volume as the kubelet writes it: each file is a symlink into ..data, itself a
    symlink to a timestamped directory; an update writes a new directory and renames a new
    ..data over the old one, so readers see the old set or the new set, never a mix."""

    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir()
        self._version = 0

    def publish(self, files: dict[str, str]) -> None:
        self._version += 1
        target = self.root / f"..2025_01_01_00_00_{self._version:02d}.000000001"
        target.mkdir()
        for name, text in files.items():
            (target / name).write_text(text)
        data = self.root / "..data"
        previous = os.readlink(data) if data.is_symlink() else None
        (self.root / "..data_tmp").symlink_to(target.name)
        os.replace(self.root / "..data_tmp", data)
        for name in ("tls.crt", "tls.key", "ca.crt"):
            link = self.root / name
            if not link.is_symlink():
                link.symlink_to(f"..data/{name}")
        if previous:
            shutil.rmtree(self.root / previous)


def _wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


class Pod:
    """The stand-in Vault and the watcher script, as the two processes of the pod."""

    def __init__(self, tmp_path: Path, volume: SecretVolume):
        self.hup_log = tmp_path / "vault-signals.log"
        self.script_log = tmp_path / "reloader.log"
        # Named vault the way the real one is: the kernel names a process (its comm) after the
        # file it executes, a symlink included, and argv[0] is "vault" as Vault's entrypoint
        # runs it; both pgrep flavours (procps here, busybox in the image) match it.
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        (bin_dir / "vault").symlink_to(os.path.realpath(sys.executable))
        stub = tmp_path / "vault_stub.py"
        stub.write_text(VAULT_STUB)
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
        self.vault = subprocess.Popen(["vault", str(stub), str(self.hup_log)],
                                      executable=bin_dir / "vault", env=env)
        assert _wait_for(lambda: self.hup_log.exists() and "ready" in self.hup_log.read_text(), 10)
        with self.script_log.open("w") as out:
            self.watcher = subprocess.Popen(
                ["sh", str(SCRIPT)], stdout=out, stderr=subprocess.STDOUT,
                env={"PATH": os.environ["PATH"], "TLS_DIR": str(volume.root),
                     "RELOAD_INTERVAL_SECONDS": str(POLL_SECONDS)})
        assert _wait_for(lambda: "watching" in self.log(), 5), self.log()

    def hups(self) -> int:
        return self.hup_log.read_text().count("HUP")

    def log(self) -> str:
        return self.script_log.read_text()

    def stop(self) -> None:
        for process in (self.watcher, self.vault):
            process.kill()
            process.wait()


@pytest.fixture
def volume(tmp_path):
    volume = SecretVolume(tmp_path / "vault-server-tls")
    volume.publish(CERT_A)
    return volume


@pytest.fixture
def pod(tmp_path, volume):
    # The script signals the oldest process named vault: never a real Vault of this machine.
    if subprocess.run(["pgrep", "-x", "vault"], capture_output=True).returncode == 0:
        pytest.skip("a process named vault already runs here; the script would signal it")
    pod = Pod(tmp_path, volume)
    yield pod
    pod.stop()


# --- behaviour: the real script, a real process, a kubelet-style volume ---------------------
# These two are mostly sleep (the script's polls) and use no shared fixture of tests/flux/:
# a group of their own keeps their 11 s off the worker that holds the "flux" group
# (tests/conftest.py), so the quick tier's two workers end closer together.
SLEEPS_ON_ITS_OWN = pytest.mark.xdist_group("tls-reload-behaviour")


@SLEEPS_ON_ITS_OWN
def test_renewed_certificate_sends_vault_exactly_one_sighup(pod, volume):
    # GIVEN the watcher has started on the certificate Vault started with
    time.sleep(QUIET)
    assert pod.hups() == 0, "start-up must not signal: Vault has just loaded these files"

    # WHEN cert-manager renews it (the kubelet swaps ..data)
    volume.publish(CERT_B)

    # THEN Vault gets one SIGHUP, and the log says so once
    assert _wait_for(lambda: pod.hups() >= 1, 5 * POLL_SECONDS), pod.log()
    time.sleep(QUIET)
    assert pod.hups() == 1, pod.log()
    assert pod.log().count(f"sent SIGHUP to vault (pid {pod.vault.pid})") == 1, pod.log()

    # WHEN the volume is rewritten with the same content (a resync)
    volume.publish(CERT_B)
    time.sleep(QUIET)

    # THEN nothing is reloaded
    assert pod.hups() == 1, pod.log()


@SLEEPS_ON_ITS_OWN
def test_transient_read_error_neither_stops_the_watcher_nor_signals(pod, volume):
    # GIVEN a moment when tls.crt cannot be read
    volume.publish({"tls.key": "key A\n", "ca.crt": "ca\n"})
    assert _wait_for(lambda: "cannot read" in pod.log(), 5 * POLL_SECONDS), pod.log()
    assert pod.watcher.poll() is None, pod.log()

    # WHEN the same certificate is back
    volume.publish(CERT_A)
    time.sleep(QUIET)

    # THEN there was nothing to reload
    assert pod.hups() == 0, pod.log()

    # WHEN it is then renewed
    volume.publish(CERT_B)

    # THEN the watcher, still running, signals Vault
    assert _wait_for(lambda: pod.hups() == 1, 5 * POLL_SECONDS), pod.log()
    assert pod.watcher.poll() is None, pod.log()


# --- structure: the rendered HelmRelease --------------------------------------------------

def _vault_release(rendered) -> tuple[dict, dict]:
    objects = rendered.objects(VAULT_DIR)
    (release,) = [o for o in objects if o.get("kind") == "HelmRelease" and o["metadata"]["name"] == "vault"]
    server = release["spec"]["values"]["server"]
    (sidecar,) = [c for c in server.get("extraContainers") or [] if c["name"] == SIDECAR]
    return release, sidecar


def _mount(sidecar: dict, volume_name: str) -> dict:
    (mount,) = [m for m in sidecar.get("volumeMounts") or [] if m["name"] == volume_name]
    return mount


def test_sidecar_can_signal_vault_and_nothing_more(rendered):
    release, sidecar = _vault_release(rendered)
    server = release["spec"]["values"]["server"]

    # Sees the vault process, with no image of its own to pin.
    assert server["shareProcessNamespace"] is True
    assert sidecar["image"] == f"{server['image']['repository']}:{server['image']['tag']}"

    # Signal permission comes from running as Vault's uid, not from a capability.
    context = sidecar["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["runAsUser"] == server["uid"]
    assert context["runAsGroup"] == server["gid"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}

    for kind in ("requests", "limits"):
        assert set(sidecar["resources"][kind]) == {"cpu", "memory"}, kind
    assert all(mount.get("readOnly") is True for mount in sidecar["volumeMounts"])


def test_shared_process_namespace_keeps_vaults_graceful_shutdown(rendered):
    """Not PID 1 any more, the chart's shell wrapper dies on the kubelet's SIGTERM and takes
    Vault with it; the preStop hook must therefore stop Vault and wait for it to exit."""
    release, _ = _vault_release(rendered)
    shell, flag, command = release["spec"]["values"]["server"]["preStop"]
    assert (shell, flag) == ("/bin/sh", "-c")
    stop, wait = command.split(" && while ")
    assert stop == "sleep 5 && kill -TERM $(pidof vault)"
    assert wait == "pidof vault >/dev/null; do sleep 1; done"


def test_sidecar_watches_the_files_vault_serves(rendered):
    release, sidecar = _vault_release(rendered)
    server = release["spec"]["values"]["server"]

    # The chart mounts an extraVolumes secret as userconfig-<name> at /vault/userconfig/<name>.
    (tls,) = [v for v in server["extraVolumes"] if v["type"] == "secret" and v["name"] == "vault-server-tls"]
    mount = _mount(sidecar, f"userconfig-{tls['name']}")
    assert mount["mountPath"] == f"/vault/userconfig/{tls['name']}"
    assert mount["readOnly"] is True

    watched = {e["name"]: e["value"] for e in sidecar["env"]}["TLS_DIR"]
    assert watched == mount["mountPath"]
    config = server["ha"]["raft"]["config"]
    assert re.search(r'tls_cert_file\s*=\s*"([^"]+)"', config).group(1) == f"{watched}/tls.crt"
    assert re.search(r'tls_key_file\s*=\s*"([^"]+)"', config).group(1) == f"{watched}/tls.key"


def test_sidecar_runs_the_script_kept_in_git(rendered):
    release, sidecar = _vault_release(rendered)
    server = release["spec"]["values"]["server"]
    objects = rendered.objects(VAULT_DIR)

    (configmap,) = [o for o in objects if o.get("kind") == "ConfigMap" and o["metadata"]["name"] == "vault-tls-reloader"]
    assert configmap["metadata"]["namespace"] == release["spec"]["targetNamespace"]
    assert configmap["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/substitute"] == "disabled"
    assert configmap["data"][SCRIPT.name] == SCRIPT.read_text()

    (volume,) = [v for v in server["volumes"] if (v.get("configMap") or {}).get("name") == "vault-tls-reloader"]
    mount = _mount(sidecar, volume["name"])
    assert sidecar["command"] == ["/bin/sh", f"{mount['mountPath']}/{SCRIPT.name}"]
