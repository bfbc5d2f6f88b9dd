"""Initialise Vault once, keep the recovery keys in a Secret, never keep a root token.

Safe to re-run: an initialised Vault is left alone. Steps on first run:
  1. make the (empty) Secret for the recovery keys first, so an RBAC or API problem
     fails before Vault is initialised rather than after (when keys could be lost);
  2. `sys/init` with recovery shares (awskms seal: there are no unseal keys);
  3. store the recovery keys in that Secret (root token NOT stored);
  4. with the root token, only enable Kubernetes auth and the role of the configure Job;
  5. revoke the root token.
Recovery after a failed bootstrap (README, "Recover a failed Vault bootstrap"): an
operator generates a root token with the recovery keys and puts it in the Secret
vault-bootstrap-token; the next run uses it for step 4, revokes it and deletes it.
"""

import base64
import json
import os

from vaultapi import KUBE_API_URL, Kube, Vault

KEYS_SECRET = os.environ.get("KEYS_SECRET", "vault-recovery-keys")
TOKEN_SECRET = os.environ.get("TOKEN_SECRET", "vault-bootstrap-token")
POLICY_DIR = os.environ.get("POLICY_DIR", "/policies")
CONFIGURE_ROLE = "vault-configure"
LABELS = {"app.kubernetes.io/part-of": "vault", "app.kubernetes.io/component": "bootstrap"}


def bootstrap(vault):
    """Just enough for the configure Job to log in on its own: Kubernetes auth + its role."""
    vault.wait_until_active()
    vault.ensure_auth("kubernetes", "kubernetes")
    # In-cluster: Vault reviews tokens with its own service account (auth-delegator), at the
    # same API server address as this Job's.
    vault.write("auth/kubernetes/config", {"kubernetes_host": KUBE_API_URL})
    with open(os.path.join(POLICY_DIR, f"{CONFIGURE_ROLE}.hcl")) as f:
        vault.write(f"sys/policies/acl/{CONFIGURE_ROLE}", {"policy": f.read()})
    vault.write(f"auth/kubernetes/role/{CONFIGURE_ROLE}", {
        "bound_service_account_names": [CONFIGURE_ROLE],
        "bound_service_account_namespaces": ["vault"],
        "token_policies": [CONFIGURE_ROLE],
        "token_ttl": "15m",
    })
    vault.call("POST", "auth/token/revoke-self")
    vault.token = None
    print("bootstrap done; the root token is revoked", flush=True)


def first_init(vault, kube):
    secret = kube.get_secret(KEYS_SECRET)
    if secret and secret.get("data"):
        raise SystemExit(f"Vault is not initialised but Secret {KEYS_SECRET} holds keys: "
                         "refusing to overwrite them. See the README's recovery section.")
    secret = secret or kube.create_secret(KEYS_SECRET, LABELS)
    result = vault.call("PUT", "sys/init", {"recovery_shares": 5, "recovery_threshold": 3})
    keys = {"recovery_keys_b64": result["recovery_keys_base64"], "recovery_threshold": 3}
    kube.put_secret_data(secret, {"recovery-keys.json": json.dumps(keys, indent=2)})
    print(f"Vault initialised; recovery keys are in Secret {KEYS_SECRET}", flush=True)
    vault.token = result["root_token"]
    bootstrap(vault)


def main():
    vault = Vault()
    kube = Kube()
    if not vault.wait_until_reachable()["initialized"]:
        first_init(vault, kube)
        return
    token_secret = kube.get_secret(TOKEN_SECRET)
    if token_secret and token_secret.get("data", {}).get("token"):
        print(f"Vault is initialised; re-running the bootstrap with {TOKEN_SECRET}", flush=True)
        vault.token = base64.b64decode(token_secret["data"]["token"]).decode().strip()
        bootstrap(vault)
        kube.delete_secret(TOKEN_SECRET)
        return
    print("Vault is already initialised: nothing to do", flush=True)


if __name__ == "__main__":
    main()
