"""Save Vault's raft storage to the backup bucket: one snapshot, checked whole, one PutObject.

Run by the vault-snapshot CronJob (cronjob-snapshot.yaml) on the tooling cluster. Steps:
  1. log in with Kubernetes auth as the vault-backup role (policy: read on
     sys/storage/raft/snapshot, nothing else);
  2. GET sys/storage/raft/snapshot from the active node's Service. A standby answers 307 to the
     leader's pod IP, which the server certificate does not cover: the redirect is refused and
     named, never followed;
  3. check the file is a whole snapshot before it leaves the pod. The server sends its 200
     before the snapshot is complete, so a dropped stream can look like a finished download.
     OpenBao 2.6 writes a gzip stream of a tar archive (meta.json, state.bin, SHA256SUMS,
     SHA256SUMS.sealed): the gzip trailer (CRC and length) must be there and match, each of
     the four members must be there, SHA256SUMS must match meta.json and state.bin, and
     meta.json's Size must be state.bin's;
  4. PutObject to s3://$BACKUP_BUCKET/$BACKUP_PREFIX/<UTC time>-<raft index>.snap (keys sort
     by time). The IRSA role may only put objects under that prefix: it cannot list, read back
     or delete a snapshot, so a stolen pod token cannot take the backups with it.
`python snapshot.py --verify FILE` runs step 3 alone (docs/vault-dr.md: before a restore).
Any failure exits non-zero with one line, so the Job fails (BackoffLimitExceeded event, the
kube_job_status_failed metric) and nothing incomplete is ever uploaded.
"""

import datetime
import gzip
import hashlib
import json
import os
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request

import awsapi
from vaultapi import Vault

SNAPSHOT_PATH = "sys/storage/raft/snapshot"
MEMBERS = ("meta.json", "state.bin", "SHA256SUMS", "SHA256SUMS.sealed")
# A freshly initialised OpenBao 2.6 cluster already snapshots to ~20 kB; a configured one is
# far larger. Anything below this is not a snapshot of the platform's Vault.
DEFAULT_MIN_BYTES = 10_000


class SnapshotError(Exception):
    """The snapshot cannot be trusted; the message says why."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise SnapshotError(f"{req.full_url} answered {code} to {newurl}: that node is a standby; point "
                            "VAULT_ADDR at the active node's Service (vault-active)")


def download(vault, target):
    """Stream the snapshot into the open binary file ``target``; its (sha256 hex, md5 digest)."""
    request = urllib.request.Request(f"{vault.addr}/v1/{SNAPSHOT_PATH}", headers={"X-Vault-Token": vault.token})
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=vault.ctx), _NoRedirect())
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    try:
        with opener.open(request, timeout=600) as answer:
            while chunk := answer.read(1 << 20):
                target.write(chunk)
                sha256.update(chunk)
                md5.update(chunk)
    except SnapshotError:
        raise  # the refused redirect, as it was said
    except urllib.error.HTTPError as err:
        raise SnapshotError(f"GET {SNAPSHOT_PATH} -> HTTP {err.code}") from None
    except (OSError, EOFError) as err:  # http.client.IncompleteRead is neither; caught below
        raise SnapshotError(f"GET {SNAPSHOT_PATH}: the stream broke ({err})") from None
    except Exception as err:  # noqa: BLE001 - IncompleteRead and friends: a broken stream
        raise SnapshotError(f"GET {SNAPSHOT_PATH}: the stream broke ({type(err).__name__})") from None
    return sha256.hexdigest(), md5.digest()


def verify(path, min_bytes=DEFAULT_MIN_BYTES):
    """meta.json of the snapshot at ``path`` if it is whole; else SnapshotError saying what is wrong."""
    size = os.path.getsize(path)
    if size < min_bytes:
        raise SnapshotError(f"snapshot is {size} bytes, below the {min_bytes} expected of this Vault "
                            "(MIN_SNAPSHOT_BYTES): missing or truncated")
    digests, small = {}, {}
    try:
        # Reading the gzip stream to its end checks its trailer (CRC-32 and length); then the
        # tar inside is read as a stream, each member hashed in chunks (state.bin can be large).
        with gzip.open(path) as stream:
            while stream.read(1 << 20):
                pass
        with tarfile.open(path, mode="r|gz") as archive:
            for info in archive:
                if info.name not in MEMBERS or not info.isfile():
                    continue
                digest, content = hashlib.sha256(), archive.extractfile(info)
                while chunk := content.read(1 << 20):
                    digest.update(chunk)
                    if info.name != "state.bin":
                        small[info.name] = small.get(info.name, b"") + chunk
                digests[info.name] = (digest.hexdigest(), info.size)
    except (OSError, EOFError, tarfile.TarError) as err:
        raise SnapshotError(f"snapshot is not a whole gzip'd tar archive ({err}): truncated") from None
    missing = [name for name in MEMBERS if name not in digests]
    if missing:
        raise SnapshotError(f"snapshot archive lacks {', '.join(missing)}: truncated or not a raft snapshot")
    sums = {}
    for line in small["SHA256SUMS"].decode(errors="replace").splitlines():
        digest, _, name = line.partition("  ")
        sums[name] = digest
    for name in ("meta.json", "state.bin"):
        if sums.get(name) != digests[name][0]:
            raise SnapshotError(f"snapshot member {name} does not match SHA256SUMS: corrupt")
    meta = json.loads(small["meta.json"])
    if meta.get("Size") != digests["state.bin"][1]:
        raise SnapshotError(f"snapshot state.bin is {digests['state.bin'][1]} bytes, meta.json says {meta.get('Size')}")
    return meta


def object_key(prefix, meta, now):
    """<prefix>/<UTC time>-<raft index>.snap: lexical order is time order."""
    return f"{prefix.strip('/')}/{now.strftime('%Y%m%dT%H%M%SZ')}-{meta['Index']}.snap"


def main():
    bucket = os.environ["BACKUP_BUCKET"]
    prefix = os.environ.get("BACKUP_PREFIX", "vault-raft")
    region = os.environ["AWS_REGION"]
    min_bytes = int(os.environ.get("MIN_SNAPSHOT_BYTES", DEFAULT_MIN_BYTES))
    vault = Vault()
    vault.login_kubernetes(os.environ.get("VAULT_AUTH_MOUNT", "kubernetes"), os.environ.get("VAULT_ROLE", "vault-backup"),
                           attempts=3, pause=5)
    now = datetime.datetime.now(datetime.timezone.utc)
    # The pod's root filesystem is read-only: the file goes to the emptyDir at WORK_DIR.
    with tempfile.NamedTemporaryFile(dir=os.environ.get("WORK_DIR"), suffix=".snap") as target:
        sha256_hex, md5_digest = download(vault, target)
        target.flush()
        meta = verify(target.name, min_bytes)
        key = object_key(prefix, meta, now)
        credentials = awsapi.Credentials.from_environment(region)
        version = awsapi.put_object(credentials, region, bucket, key, target.name, sha256_hex, md5_digest)
        print(f"saved raft index {meta['Index']} ({os.path.getsize(target.name)} bytes) to s3://{bucket}/{key}"
              f" version {version}", flush=True)


def verify_file(path):
    """`python snapshot.py --verify FILE`: the runbook's check of a fetched snapshot before a restore."""
    meta = verify(path, int(os.environ.get("MIN_SNAPSHOT_BYTES", DEFAULT_MIN_BYTES)))
    print(f"{path}: whole raft snapshot, index {meta['Index']}, term {meta['Term']}", flush=True)


if __name__ == "__main__":
    try:
        if sys.argv[1:2] == ["--verify"] and len(sys.argv) == 3:
            verify_file(sys.argv[2])
        else:
            main()
    except (SnapshotError, awsapi.AwsError) as err:
        sys.exit(f"vault snapshot FAILED: {err}")
