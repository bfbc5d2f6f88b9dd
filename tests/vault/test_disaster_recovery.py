"""The disaster-recovery drill (docs/vault-dr.md), on the real lab: OpenBao raft, the emulator's
KMS and S3.

The snapshot is taken by the CronJob's own script (cronjob-snapshot.yaml, scripts/snapshot.py)
from the session's bootstrapped cluster into an emulated bucket with Object Lock, fetched back
as the restore role would, and restored with the runbook's command (`bao operator raft
snapshot restore -force`) onto
  a) a new cluster sealed by the same KMS key: data, policies, roles and auth mounts are back,
     every node unseals itself after a restart, the old recovery keys work and the new init's
     root token and recovery keys do not, a secret changed after the snapshot is reverted;
  b) a new cluster with another KMS key: the restore does not take, that cluster keeps its own
     data, and the source cluster is untouched.
The two new clusters start and initialise side by side (the drill's cost: README "Test tiers").
"""

from __future__ import annotations

import concurrent.futures
import gzip
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest

from tests.vault.conftest import Bootstrapped, flux_values
from vault_platform.config import load_environment
from vault_platform.gitops.vault_checks import VAULT_CONFIG_DIR, bao_binary
from vault_platform.ops.emulator import TEST_ACCESS_KEY, Emulator
from vault_platform.vaultlab import JobRunner, VaultLab
from vault_platform.vaultlab.cluster import REGION

# One worker for the module (`make test` runs two): its drill fixture starts two clusters once.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("vault-dr-drill")]

SECRET_PATH = "kv/data/apps/dr-drill"
# What the EKS pod identity webhook adds to the CronJob's pod (IRSA); the emulator's STS
# answers AssumeRoleWithWebIdentity without judging the token.
BACKUP_ROLE_ARN = "arn:aws:iam::123456789012:role/lab-tooling-vault-backup"
PREFIX = "vault-raft"


def s3(emulator: Emulator):
    return boto3.client("s3", endpoint_url=emulator.endpoint, region_name=REGION,
                        aws_access_key_id=TEST_ACCESS_KEY, aws_secret_access_key=TEST_ACCESS_KEY)


def make_backup_bucket(emulator: Emulator) -> str:
    """A bucket as the tooling stack makes it where it matters to a PutObject: Object Lock
    (which requires Content-MD5 on every write) with a default retention, versioning."""
    name = f"vault-backup-{uuid.uuid4().hex[:8]}"
    client = s3(emulator)
    client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True,
                         CreateBucketConfiguration={"LocationConstraint": REGION})
    client.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    return name


def run_snapshot_job(lab: VaultLab, emulator: Emulator, bucket: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The CronJob's one container as its manifest runs it; ``env``: a test's changes."""
    jobs = JobRunner(lab, flux_values(lab, VAULT_BACKUP_BUCKET=bucket, VAULT_BACKUP_SCHEDULE="0 * * * *"))
    token_file = lab.root / "sa-vault-backup" / "token"  # type: ignore[operator]
    return jobs.run("snapshot", injected_env={
        "AWS_ENDPOINT_URL": emulator.endpoint, "AWS_REGION": REGION,
        "AWS_ROLE_ARN": BACKUP_ROLE_ARN, "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file), **env})


def restore(lab: VaultLab, token: str, snapshot: Path) -> subprocess.CompletedProcess[str]:
    """The runbook's restore command (docs/vault-dr.md): the CLI on the active node, the
    snapshot on its standard input (as `kubectl exec -i ... < vault.snap` gives it)."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(lab.root), "VAULT_ADDR": lab.active_node().ports.api_addr,
           "VAULT_CACERT": str(lab.ca_cert), "VAULT_TOKEN": token}
    with snapshot.open("rb") as stdin:
        return subprocess.run([str(bao_binary()), "operator", "raft", "snapshot", "restore", "-force", "/dev/stdin"],
                              env=env, stdin=stdin, capture_output=True, text=True, timeout=120)


def verify_as_the_runbook_does(snapshot: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(VAULT_CONFIG_DIR / "scripts" / "snapshot.py"), "--verify", str(snapshot)],
                          capture_output=True, text=True, timeout=60)


def configuration(lab: VaultLab, token: str) -> dict[str, object]:
    """What a restore must bring back, as an operator lists it."""
    client = lab.client(token)
    roles = client.request("LIST", "auth/kubernetes/role").body["data"]["keys"]
    return {
        "auth": sorted(client.request("GET", "sys/auth").body["data"]),
        "mounts": sorted(client.request("GET", "sys/mounts").body["data"]),
        "policies": sorted(client.request("LIST", "sys/policies/acl").body["data"]["keys"]),
        "kubernetes roles": {role: client.request("GET", f"auth/kubernetes/role/{role}").body["data"]["token_policies"]
                             for role in roles},
    }


@dataclass
class Drill:
    source: Bootstrapped
    bucket: str
    snapshot_run: subprocess.CompletedProcess[str]
    key: str
    snapshot: Path
    source_config: dict[str, object]
    same_key: VaultLab
    other_key: VaultLab
    same_key_init: dict
    other_key_init: dict
    timings: dict[str, float] = field(default_factory=dict)


def start_and_initialise(lab: VaultLab) -> dict:
    """A new cluster as the runbook wants it before a restore: initialised, three voters."""
    lab.start()
    answer = lab.initialise()
    lab.wait_for_voters(answer["root_token"])
    return answer


@pytest.fixture(scope="module")
def drill(bootstrapped: Bootstrapped, kms_emulator: Emulator, tmp_path_factory) -> Iterator[Drill]:
    source = bootstrapped.lab
    with bootstrapped.operator_root() as root:
        client = source.client(root)
        assert client.request("POST", SECRET_PATH, {"data": {"password": "at-snapshot"}}).status == 200
        source_config = configuration(source, root)
    bucket = make_backup_bucket(kms_emulator)
    started = time.monotonic()
    run = run_snapshot_job(source, kms_emulator, bucket)
    timings = {"snapshot job": time.monotonic() - started}
    # After the snapshot: a rotation the restore will undo.
    with bootstrapped.operator_root() as root:
        assert source.client(root).request("POST", SECRET_PATH, {"data": {"password": "rotated-later"}}).status == 200
    listed = s3(kms_emulator).list_objects_v2(Bucket=bucket, Prefix=f"{PREFIX}/").get("Contents", [])
    assert run.returncode == 0 and len(listed) == 1, (run.stdout, run.stderr, listed)
    key = listed[0]["Key"]
    # The restore role's side (docs/vault-dr.md): fetch the newest object under the prefix.
    snapshot = tmp_path_factory.mktemp("dr") / "vault.snap"
    snapshot.write_bytes(s3(kms_emulator).get_object(Bucket=bucket, Key=key)["Body"].read())
    checked = verify_as_the_runbook_does(snapshot)
    assert checked.returncode == 0 and "whole raft snapshot" in checked.stdout, checked.stderr

    same_key = VaultLab(emulator=kms_emulator, same_key_as=source)
    # Another region's KMS cannot see the source's key, as a cluster in another region or
    # account cannot (the lab's IAM allows kms:* on every key of its emulator).
    other_key = VaultLab(emulator=kms_emulator, region="eu-central-1")
    try:
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            same_init, other_init = pool.map(start_and_initialise, (same_key, other_key))
        timings["two new clusters started and initialised (side by side)"] = time.monotonic() - started
        yield Drill(bootstrapped, bucket, run, key, snapshot, source_config, same_key, other_key,
                    same_init, other_init, timings)
    finally:
        same_key.stop()
        other_key.stop()


def test_the_cronjob_script_saves_a_whole_snapshot_with_a_sortable_key(drill: Drill) -> None:
    assert re.fullmatch(rf"{PREFIX}/\d{{8}}T\d{{6}}Z-\d+\.snap", drill.key), drill.key
    assert f"s3://{drill.bucket}/{drill.key}" in drill.snapshot_run.stdout
    # What was stored is what OpenBao sent: a gzip'd tar with the raft state and its checksums.
    assert gzip.decompress(drill.snapshot.read_bytes())


def test_the_snapshot_job_fails_loudly_and_uploads_nothing(drill: Drill, kms_emulator: Emulator) -> None:
    """Each way a run can go wrong ends the Job non-zero with one line, before anything reaches
    the bucket: a standby's redirect (VAULT_ADDR not at the active node), a bucket that is not
    there, a snapshot below the expected size."""
    source = drill.source.lab
    cases = {
        "redirect": ({}, drill.bucket, "that node is a standby"),
        "no bucket": ({}, "no-such-vault-backup", "NoSuchBucket"),
        "too small": ({"MIN_SNAPSHOT_BYTES": str(10**9)}, drill.bucket, "below the 1000000000 expected"),
    }
    for case, (env, bucket, message) in cases.items():
        if case == "redirect":
            run = run_against_a_standby(drill, kms_emulator)
        else:
            run = run_snapshot_job(source, kms_emulator, bucket, **env)
        assert run.returncode != 0, (case, run.stdout)
        (line,) = run.stderr.strip().splitlines()
        assert line.startswith("vault snapshot FAILED:") and message in line, (case, run.stderr)
    listed = s3(kms_emulator).list_objects_v2(Bucket=drill.bucket, Prefix=f"{PREFIX}/").get("Contents", [])
    assert [entry["Key"] for entry in listed] == [drill.key]


def leadership(lab: VaultLab) -> tuple[str, str]:
    """Who leads and since when (sys/leader on the active node): any election changes it."""
    answer = lab.active_node().client.request("GET", "sys/leader").body
    return answer["leader_address"], answer["active_time"]


def run_against_a_standby(drill: Drill, emulator: Emulator, attempts: int = 3) -> subprocess.CompletedProcess[str]:
    """The Job with VAULT_ADDR at a node that stays a standby for the whole run.

    Under load raft can elect another leader between choosing the node and the Job's GET. A
    run across an election proves nothing either way, so it is run again on a node that is
    then a standby, and its upload, if it made one, is deleted. A run during which the leader
    did not change is the answer, whatever it says. (CI twice saw a standby serve the snapshot
    with no election: OpenBao's standby reads, which the lab now turns off as production's
    Vault has none; test_a_standby_redirects_a_snapshot_read_as_vault_does.)"""
    lab = drill.source.lab
    for _ in range(attempts):
        before = leadership(lab)
        standby = next(node for node in lab.nodes if node.client.health() == 429)
        run = run_snapshot_job(lab, emulator, drill.bucket, VAULT_ADDR=standby.ports.api_addr)
        if leadership(lab) == before:
            return run
        for key in re.findall(rf"s3://{re.escape(drill.bucket)}/(\S+)", run.stdout):
            s3(emulator).delete_object(Bucket=drill.bucket, Key=key)
    raise AssertionError(f"the leader changed during each of {attempts} runs: the redirect case was not tested")


def test_a_standby_redirects_a_snapshot_read_as_vault_does(drill: Drill) -> None:
    """HashiCorp Vault 1.19's standbys (what the pods run) forward every request and redirect a
    raft snapshot read with a 307; OpenBao's answer reads from their own copy since 2.5, which
    the lab turns off (raft_config.lab_server_config). With it on, a standby whose token store
    has caught up serves its own snapshot: seen here every time, and twice in CI as the
    snapshot Job's redirect case saving a snapshot from a standby. Asked after a forwarded
    write, so the standby's connection to the active node is up."""
    lab = drill.source.lab
    standbys = [node for node, code in zip(lab.nodes, lab.health()) if code == 429]
    assert len(standbys) == len(lab.nodes) - 1, lab.health()  # every node but the active one was asked
    with drill.source.operator_root() as root:
        for standby in standbys:
            write = standby.client.request("PUT", "sys/policies/acl/standby-probe",
                                           {"policy": 'path "kv/data/none" { capabilities = ["read"] }'}, token=root)
            assert write.status == 204, write.body
            answers = [standby.client.request("GET", "sys/storage/raft/snapshot", token=root).status for _ in range(3)]
            assert answers == [307, 307, 307], f"{standby.name} answered a snapshot read itself: {answers}"
        assert lab.client(root).request("DELETE", "sys/policies/acl/standby-probe").status == 204


def snapshot_script():
    import importlib.util

    scripts = str(VAULT_CONFIG_DIR / "scripts")
    sys.path.insert(0, scripts)
    try:
        spec = importlib.util.spec_from_file_location("dr_snapshot", VAULT_CONFIG_DIR / "scripts" / "snapshot.py")
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        return module
    finally:
        sys.path.remove(scripts)


def test_a_truncated_or_altered_snapshot_is_refused(drill: Drill, tmp_path: Path) -> None:
    """Every cut of the real snapshot, and a flipped byte of its raft state, fails the check
    that runs before the upload (the server sends its 200 before the snapshot is complete)."""
    module = snapshot_script()
    whole = drill.snapshot.read_bytes()
    assert module.verify(drill.snapshot)["Index"] > 0
    cut = tmp_path / "cut.snap"
    for length in range(0, len(whole), max(1, len(whole) // 40)):
        cut.write_bytes(whole[:length])
        with pytest.raises(module.SnapshotError):
            module.verify(cut, min_bytes=0)
    refused = verify_as_the_runbook_does(cut)  # the runbook's check, on the last cut
    assert refused.returncode == 1 and refused.stderr.startswith("vault snapshot FAILED: snapshot is not a whole"), refused
    with pytest.raises(module.SnapshotError, match="below the"):
        module.verify(drill.snapshot, min_bytes=len(whole) + 1)
    # One byte of state.bin changed inside a re-packed, well-formed archive.
    import io
    import tarfile

    members = {}
    with tarfile.open(drill.snapshot, "r:gz") as archive:
        for info in archive:
            members[info.name] = archive.extractfile(info).read()  # type: ignore[union-attr]
    state = bytearray(members["state.bin"])
    state[len(state) // 2] ^= 0xFF
    members["state.bin"] = bytes(state)
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    altered = tmp_path / "altered.snap"
    altered.write_bytes(packed.getvalue())
    with pytest.raises(module.SnapshotError, match="state.bin does not match SHA256SUMS"):
        module.verify(altered, min_bytes=0)


def test_restore_onto_a_new_cluster_with_the_same_key_brings_everything_back(drill: Drill, capsys) -> None:
    lab, new_root = drill.same_key, drill.same_key_init["root_token"]
    started = time.monotonic()
    answer = restore(lab, new_root, drill.snapshot)
    assert answer.returncode == 0, answer.stderr
    # The restore applies in the background; the new init's root token dies with the token store.
    deadline = time.monotonic() + 60
    while lab.client(new_root).request("GET", "auth/token/lookup-self").status != 403:
        assert time.monotonic() < deadline, "the new init's root token still works 60 s after the restore"
        time.sleep(0.5)
    # The old cluster's recovery keys work here; the new init's do not.
    old_keys = drill.source.recovery_keys()
    root = lab.generate_root(old_keys["recovery_keys_b64"], old_keys["recovery_threshold"])
    rto = time.monotonic() - started
    try:
        assert configuration(lab, root) == drill.source_config
        # The value at snapshot time: the later rotation is undone (docs/vault-dr.md warns).
        secret = lab.client(root).request("GET", SECRET_PATH).body["data"]["data"]
        assert secret == {"password": "at-snapshot"}
    finally:
        lab.client(root).request("POST", "auth/token/revoke-self")
    attempt = lab.client().request("PUT", "sys/generate-root/attempt", {})
    nonce = attempt.body["nonce"]
    for key in drill.same_key_init["recovery_keys_base64"][:3]:
        refused = lab.client().request("PUT", "sys/generate-root/update", {"key": key, "nonce": nonce})
        if refused.status != 200:
            break
    assert refused.status == 400, refused
    lab.client().request("DELETE", "sys/generate-root/attempt")
    # Every node is unsealed on the restored keyring, and a restarted pod unseals itself with it
    # (the KMS key opens it): a follower, so that no election is needed.
    assert all(node.client.request("GET", "sys/seal-status").body["sealed"] is False for node in lab.nodes)
    follower = next(node for node in lab.nodes if node.client.health() == 429)
    follower.stop(signal.SIGKILL)
    follower.start()
    assert lab.wait_for_health({429}, nodes=[follower], timeout=60) == [429]
    assert sorted(lab.health()) == [200, 429, 429]
    drill.timings["restore (command to data readable)"] = rto
    schedule = load_environment(os.environ.get("ENV", "default")).tooling.vault_backup.schedule
    with capsys.disabled():
        print(f"\nvault DR drill: RPO = the snapshot interval, schedule \"{schedule}\" ([tooling.vault_backup]); "
              f"RTO {rto:.1f} s from the restore command to the data readable on a new cluster "
              f"(+ {drill.timings['two new clusters started and initialised (side by side)']:.1f} s to start, initialise "
              f"and join it, here; on EKS: the pods' start); snapshot job {drill.timings['snapshot job']:.1f} s")


def test_restore_onto_a_cluster_with_another_key_seals_it_and_leaves_the_source_alone(drill: Drill) -> None:
    """The snapshot's keyring is sealed by the source's KMS key: a cluster that cannot use that
    key accepts the restore (exit 0: the server applies it in the background), then cannot read
    the restored keys and seals itself. Its own data was replaced: never restore onto a cluster
    whose data is needed (docs/vault-dr.md)."""
    lab, root = drill.other_key, drill.other_key_init["root_token"]
    client = lab.client(root)
    assert client.request("POST", "sys/mounts/kv", {"type": "kv", "options": {"version": "2"}}).status == 204
    deadline = time.monotonic() + 30
    while client.request("POST", "kv/data/own", {"data": {"v": "other cluster"}}).status != 200:
        assert time.monotonic() < deadline, "kv v2 on the other cluster never took a write"
        time.sleep(0.3)
    answer = restore(lab, root, drill.snapshot)
    assert answer.returncode == 0, answer.stderr
    assert lab.wait_for_health({503}, timeout=60) == [503, 503, 503]
    assert lab.nodes[0].client.request("GET", "sys/seal-status").body["sealed"] is True
    active_log = lab.nodes[0].log_path.read_text()
    assert "raft snapshot restore failed to get stored keys" in active_log
    # The source is untouched: its data is the later value, its nodes are healthy.
    with drill.source.operator_root() as source_root:
        secret = drill.source.lab.client(source_root).request("GET", SECRET_PATH).body["data"]["data"]
    assert secret == {"password": "rotated-later"}
    assert sorted(drill.source.lab.health()) == [200, 429, 429]
