# The snapshot CronJob (scripts/snapshot.py): read one raft snapshot, nothing else. A
# snapshot holds every secret barrier-encrypted; the KMS unseal key is what opens it, and
# the backup bucket is encrypted with a key of its own (docs/vault-dr.md).
path "sys/storage/raft/snapshot" { capabilities = ["read"] }
