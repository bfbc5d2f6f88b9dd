#!/bin/sh
# Sidecar of the Vault server pod: sends the Vault server SIGHUP when its TLS certificate
# changes. Vault reads tls_cert_file/tls_key_file at start and again only on SIGHUP, so
# without this a certificate cert-manager renewed would reach the mounted files but not
# the listener, which would serve the old one until it expires.
#
# Polls a checksum instead of watching with inotify: the kubelet updates a secret volume by
# swapping its ..data symlink to a new directory, so the paths tls.crt and tls.key never see
# a write; the checksum of what they resolve to is what changes.
#
# Never exits: a sidecar that stops makes the pod NotReady and takes Vault out of its
# Services. Read errors are logged and retried on the next poll.
#
# Flux substitutes dollar-brace variables in everything it applies (this ConfigMap opts out,
# and the tests refuse them anyway): use the plain $NAME form here.
#
# Environment: TLS_DIR (default /vault/userconfig/vault-server-tls), RELOAD_INTERVAL_SECONDS
# (default 60).

tls_dir=$TLS_DIR
[ -n "$tls_dir" ] || tls_dir=/vault/userconfig/vault-server-tls
interval=$RELOAD_INTERVAL_SECONDS
case $interval in
  '') interval=60 ;;
  *[!0-9]* | 0*)
    echo "reload-on-cert-change: RELOAD_INTERVAL_SECONDS=$interval is not a whole number of seconds; using 60"
    interval=60 ;;
esac

log() {
  echo "reload-on-cert-change: $*"
}

# One value for the certificate and key together; fails while either cannot be read.
fingerprint() {
  sha256sum "$tls_dir/tls.crt" "$tls_dir/tls.key"
}

# The oldest process named vault is the server; a `vault` CLI run in the pod later (kubectl
# exec) would die of a SIGHUP, so it is left alone. Same uid as Vault: no capability needed.
signal_vault() {
  pid=$(pgrep -o -x vault) || return 1
  kill -HUP "$pid" || return 1
  log "certificate in $tls_dir changed: sent SIGHUP to vault (pid $pid)"
}

# Start-up takes the current files as the baseline: Vault loaded these very files when it
# started, so there is nothing to reload.
last=
until last=$(fingerprint); do
  log "cannot read the certificate in $tls_dir yet; retrying in $interval s"
  sleep "$interval"
done
log "watching $tls_dir every $interval s"

while :; do
  sleep "$interval"
  if ! current=$(fingerprint); then
    log "cannot read the certificate in $tls_dir; retrying in $interval s"
    continue
  fi
  [ "$current" = "$last" ] && continue
  # Only a delivered signal moves the baseline: if Vault is between restarts, try again.
  if signal_vault; then
    last=$current
  else
    log "certificate in $tls_dir changed but no vault process took SIGHUP; retrying in $interval s"
  fi
done
