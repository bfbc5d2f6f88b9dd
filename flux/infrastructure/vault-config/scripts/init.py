"""Initialise Vault once, keep the recovery keys in a Secret, never keep a root token.

Safe to re-run: an initialised, bootstrapped Vault is left alone; an initialised Vault whose
bootstrap never finished fails the Job (never exit 0 on a Vault nobody can configure) until an
operator provides a root token as below. Steps on first run:
  1. make the (empty) Secret for the recovery keys first, so an RBAC or API problem
     fails before Vault is initialised rather than after (when keys could be lost);
  2. `sys/init` with recovery shares (awskms seal: there are no unseal keys);
  3. store the recovery keys in that Secret, retried (root token NOT stored);
  4. with the root token, only enable Kubernetes auth, the configure Job's policy (rendered from
     Git and platform-vars by job_policy.py) and role, and remove the auth mounts of application
     clusters no longer listed;
  5. revoke the root token.
Recovery after a failed bootstrap (README, "Recover a failed Vault bootstrap"): an
operator generates a root token with the recovery keys and puts it in the Secret
vault-bootstrap-token; the next run uses it for step 4, revokes it and deletes it.
"""

import base64
import json
import os
import time

import configure
import job_policy
from vaultapi import KUBE_API_URL, ApiError, Kube, Vault

KEYS_SECRET = os.environ.get("KEYS_SECRET", "vault-recovery-keys")
TOKEN_SECRET = os.environ.get("TOKEN_SECRET", "vault-bootstrap-token")
CONFIGURE_ROLE = "vault-configure"
LABELS = {"app.kubernetes.io/part-of": "vault", "app.kubernetes.io/component": "bootstrap"}


# Key of Secret vault-bootstrap-token naming the auth mounts whose removal the operator confirms.
REMOVE_KEY = "remove-mounts"


def bootstrap(vault, inputs, confirmed_removals=frozenset()):
    """Just enough for the configure Job to log in on its own: Kubernetes auth + its role, and
    the privileged changes the Job may not make itself: its policy, removing a cluster's mount
    (only the ones the operator names: a removal revokes every token and lease it issued)."""
    vault.wait_until_active()
    vault.ensure_auth("kubernetes", "kubernetes")
    # In-cluster: Vault reviews tokens with its own service account (auth-delegator), at the
    # same API server address as this Job's.
    vault.write("auth/kubernetes/config", {"kubernetes_host": KUBE_API_URL})
    vault.write(f"sys/policies/acl/{CONFIGURE_ROLE}", {"policy": job_policy.render(inputs)})
    for mount in configure.unlisted_cluster_mounts(vault, inputs["clusters"]):
        if mount not in confirmed_removals:
            print(f"kept auth mount {mount}: its cluster is no longer in {configure.CLUSTERS_VAR}, but removing it "
                  f"revokes every token and lease it issued; to remove it, name it in {TOKEN_SECRET}'s key "
                  f"{REMOVE_KEY} (README \"Recover a failed Vault bootstrap\")", flush=True)
            continue
        vault.call("DELETE", f"sys/auth/{mount}")
        print(f"removed auth mount {mount} (its cluster is no longer in {configure.CLUSTERS_VAR}; "
              "every token and lease it issued is revoked)", flush=True)
    vault.write(f"auth/kubernetes/role/{CONFIGURE_ROLE}", {
        "bound_service_account_names": [CONFIGURE_ROLE],
        "bound_service_account_namespaces": ["vault"],
        "token_policies": [CONFIGURE_ROLE],
        "token_ttl": "15m",
    })
    revoke_other_root_tokens(vault)
    vault.call("POST", "auth/token/revoke-self")
    vault.token = None
    print("bootstrap done; the root token is revoked", flush=True)


def revoke_other_root_tokens(vault):
    """A run that died after sys/init left its root token valid (root tokens never expire):
    the recovery run revokes every root token but its own, so none survives a bootstrap."""
    own = vault.call("GET", "auth/token/lookup-self")["data"]["accessor"]
    for accessor in vault.call("LIST", "auth/token/accessors")["data"]["keys"]:
        if accessor == own:
            continue
        info = vault.write("auth/token/lookup-accessor", {"accessor": accessor})["data"]
        if "root" in (info.get("policies") or []):
            vault.write("auth/token/revoke-accessor", {"accessor": accessor})
            print("revoked a root token left by an earlier run", flush=True)


def store_keys(kube, secret, keys, attempts=10, pause=3):
    """Put the recovery keys in the Secret, retried: they exist nowhere else."""
    for attempt in range(1, attempts + 1):
        try:
            kube.put_secret_data(secret, {"recovery-keys.json": json.dumps(keys, indent=2)})
            return
        except (ApiError, OSError) as err:
            print(f"storing the recovery keys failed ({err}), attempt {attempt} of {attempts}", flush=True)
            time.sleep(pause)
            secret = kube.get_secret(KEYS_SECRET) or secret
    raise SystemExit(f"Vault is initialised but its recovery keys could not be stored in Secret {KEYS_SECRET}: "
                     "they are lost. Vault holds no data yet: see the README, 'Recover a failed Vault bootstrap', "
                     "'keys lost'.")


def first_init(vault, kube, inputs):
    secret = kube.get_secret(KEYS_SECRET)
    if secret and secret.get("data"):
        raise SystemExit(f"Vault is not initialised but Secret {KEYS_SECRET} holds keys: "
                         "refusing to overwrite them. See the README's recovery section.")
    secret = secret or kube.create_secret(KEYS_SECRET, LABELS)
    result = vault.call("PUT", "sys/init", {"recovery_shares": 5, "recovery_threshold": 3})
    # Vault answers recovery_keys_base64 (a wrong name here once lost the keys of a first run).
    keys = {"recovery_keys_b64": result["recovery_keys_base64"], "recovery_threshold": 3}
    store_keys(kube, secret, keys)
    print(f"Vault initialised; recovery keys are in Secret {KEYS_SECRET}", flush=True)
    vault.token = result["root_token"]
    bootstrap(vault, inputs)


def bootstrap_finished(vault):
    """Whether the configure Job's login exists, asked with this Job's own token (no root).

    Vault answers 403 both for a mount that does not exist and for a role whose binding
    refuses this service account, and 400 for a role that does not exist on an existing
    mount: so the mount exists if a made-up role gets 400, and then the configure role
    exists if it gets 403."""
    if vault.login_status("kubernetes", "vault-init-probe-no-such-role") != 400:
        return False
    return vault.login_status("kubernetes", CONFIGURE_ROLE) == 403


def main():
    # What configure may write is rendered from these: checked before anything is written.
    inputs = configure.job_inputs()
    vault = Vault()
    kube = Kube()
    if not vault.wait_until_reachable()["initialized"]:
        first_init(vault, kube, inputs)
        return
    token_secret = kube.get_secret(TOKEN_SECRET)
    if token_secret and token_secret.get("data", {}).get("token"):
        print(f"Vault is initialised; re-running the bootstrap with {TOKEN_SECRET}", flush=True)
        vault.token = base64.b64decode(token_secret["data"]["token"]).decode().strip()
        removals = base64.b64decode(token_secret["data"].get(REMOVE_KEY, "")).decode()
        bootstrap(vault, inputs, frozenset(m.strip() for m in removals.split(",") if m.strip()))
        kube.delete_secret(TOKEN_SECRET)
        return
    vault.wait_until_active()
    if not bootstrap_finished(vault):
        # An earlier run died between sys/init and the end of the bootstrap: its root token is
        # gone, so only an operator can finish it. Failing keeps Flux from calling Vault ready.
        raise SystemExit("Vault is initialised but the bootstrap did not finish (no login for "
                         f"{CONFIGURE_ROLE}): create Secret {TOKEN_SECRET} as the README says "
                         "('Recover a failed Vault bootstrap') and re-run this Job")
    print("Vault is already initialised and bootstrapped: nothing to do", flush=True)


if __name__ == "__main__":
    main()
