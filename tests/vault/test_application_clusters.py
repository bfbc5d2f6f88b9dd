"""Vault learns every application cluster from Terraform's platform vars (issue #15, item 2).

GIVEN the session's bootstrapped lab (its application cluster "application") and a second
application cluster's Kubernetes API stand-in with its own signing key and its own CA, WHEN
the real configure Job runs with VAULT_KUBERNETES_CLUSTERS_B64 listing both, THEN it refuses
in one line and writes nothing (its policy does not name the new mount: adding a cluster is a
privileged change); WHEN vault-init applies it with the bootstrap-token path THEN configure
makes the mount and each cluster's token logs in on its own mount only, with its role's
policy; WHEN the list drops the second cluster THEN configure refuses again, and only the
bootstrap-token path removes the mount (the tooling mount and "application" stay); a further
run changes nothing. The lab ends as the session fixture left it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.vault.conftest import Bootstrapped, jobs_for
from tests.vault.test_bootstrap import CHANGES
from vault_platform.gitops.platform_vars import vault_kubernetes_mount
from vault_platform.vaultlab import KubeStandIn, Response
from vault_platform.vaultlab.cluster import APPLICATION_CLUSTER
from vault_platform.vaultlab.tls import write_lab_tls

pytestmark = pytest.mark.integration

SECOND = "second"
A, B = vault_kubernetes_mount(APPLICATION_CLUSTER), vault_kubernetes_mount(SECOND)


def login(bootstrapped: Bootstrapped, mount: str, cluster: KubeStandIn) -> Response:
    """The demo app's login (roles.json "kubernetes-*": demo-app, namespace demo) with a token of ``cluster``."""
    jwt = cluster.service_account_token("demo", "demo-app")
    return bootstrapped.lab.client().request("POST", f"auth/{mount}/login", {"role": "demo-app", "jwt": jwt})


@dataclass
class Runs:
    refused_addition: str
    mounts_before_apply: set[str]
    both: str
    refused_removal: str
    unconfirmed: str
    warned: str
    mounts_unconfirmed: set[str]
    removal: str
    only_application: str
    again: str
    logins_with_both: dict[tuple[str, str], Response]  # (mount, token's cluster) -> answer
    mounts_after_removal: set[str]
    logins_after_removal: dict[tuple[str, str], Response]


@pytest.fixture(scope="module")
def runs(bootstrapped: Bootstrapped, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    lab = bootstrapped.lab
    assert lab.application_kube is not None
    # Its own TLS: a CA that is not the first cluster's, so each mount must hold its own.
    with KubeStandIn(write_lab_tls(tmp_path_factory.mktemp("second-cluster-tls") / "tls"),
                     issuer="https://second.kubernetes.stand-in",
                     auth_delegators=lab.application_kube.auth_delegators) as second:
        clusters = {APPLICATION_CLUSTER: lab.application_kube, SECOND: second}
        assert second.tls.ca_cert.read_bytes() != lab.application_kube.tls.ca_cert.read_bytes()

        def output(run) -> str:  # type: ignore[no-untyped-def]
            return run.stdout + run.stderr

        def logins() -> dict[tuple[str, str], Response]:
            return {(mount, name): login(bootstrapped, mount, kube)
                    for mount in (A, B) for name, kube in clusters.items()}

        def mounts_now() -> set[str]:
            with bootstrapped.operator_root() as root:
                return set(lab.client(root).request("GET", "sys/auth").body["data"])

        with_second = jobs_for(lab, VAULT_KUBERNETES_CLUSTERS_B64=lab.kubernetes_clusters_b64(clusters))
        refused_addition = output(with_second.run("configure"))
        mounts_before_apply = mounts_now()
        bootstrapped.privileged_apply(with_second)
        both = output(with_second.run("configure"))
        with_both = logins()
        refused_removal = output(bootstrapped.jobs.run("configure"))
        unconfirmed = output(bootstrapped.privileged_apply(bootstrapped.jobs))
        warned = output(bootstrapped.jobs.run("configure"))
        mounts_unconfirmed = mounts_now()
        removal = output(bootstrapped.privileged_apply(bootstrapped.jobs, remove_mounts=(B,)))
        only_application = output(bootstrapped.jobs.run("configure"))
        with bootstrapped.operator_root() as root:
            mounts = set(lab.client(root).request("GET", "sys/auth").body["data"])
        after = logins()
        again = bootstrapped.jobs.run("configure")
        yield Runs(refused_addition, mounts_before_apply, both, refused_removal, unconfirmed, warned, mounts_unconfirmed,
                   removal, only_application,
                   again.stdout, with_both, mounts, after)


STALE = "policy vault-configure in Vault is not the one Git and platform-vars give"


def test_a_new_cluster_waits_for_the_privileged_apply(runs: Runs):
    assert runs.refused_addition.strip().splitlines()[-1].startswith(STALE)
    assert f"sys/auth/{B}" in runs.refused_addition
    assert not [line for line in runs.refused_addition.splitlines() if line.startswith(CHANGES)]
    assert f"{B}/" not in runs.mounts_before_apply


def test_a_listed_cluster_gets_its_mount(runs: Runs):
    assert f"enabled Kubernetes auth at {B}/ for cluster {SECOND}" in runs.both
    assert f"enabled Kubernetes auth at {A}/" not in runs.both  # the session's run made it


@pytest.mark.parametrize("name", [APPLICATION_CLUSTER, SECOND])
def test_a_clusters_token_logs_in_on_its_own_mount_with_its_roles_policy(runs: Runs, name: str):
    answer = runs.logins_with_both[(vault_kubernetes_mount(name), name)]
    assert answer.status == 200, answer.body
    assert answer.body["auth"]["policies"] == ["default", "demo-app"]


@pytest.mark.parametrize(("mount", "name"), [(B, APPLICATION_CLUSTER), (A, SECOND)])
def test_a_clusters_token_is_refused_on_another_clusters_mount(runs: Runs, mount: str, name: str):
    # The other cluster's API server (stand-in) does not know the token: its TokenReview, made
    # with that very token (disable_local_ca_jwt), is unauthenticated.
    answer = runs.logins_with_both[(mount, name)]
    assert answer.status == 403, answer.body


def test_a_cluster_no_longer_listed_loses_its_mount(runs: Runs):
    assert runs.refused_removal.strip().splitlines()[-1].startswith(STALE)
    assert f"removed auth mount {B}" in runs.removal


def test_a_removal_waits_for_the_operators_confirmation(runs: Runs):
    # The list alone (a Terraform output) never revokes a cluster's tokens: the privileged run
    # keeps the mount until the operator names it; the configure Job says so on every run.
    assert f"kept auth mount {B}" in runs.unconfirmed and "remove-mounts" in runs.unconfirmed
    assert f"{B}/" in runs.mounts_unconfirmed
    assert f"WARNING: auth mount {B} is no longer in VAULT_KUBERNETES_CLUSTERS_B64" in runs.warned
    assert f"{B}/" not in runs.mounts_after_removal
    assert {"kubernetes/", f"{A}/"} <= runs.mounts_after_removal
    assert runs.logins_after_removal[(B, SECOND)].status != 200
    assert runs.logins_after_removal[(A, APPLICATION_CLUSTER)].status == 200


def test_a_re_run_changes_nothing(runs: Runs):
    assert not [line for line in runs.again.splitlines() if line.startswith(CHANGES)], runs.again


def test_the_lab_ends_as_the_session_fixture_left_it(runs: Runs, bootstrapped: Bootstrapped):
    with bootstrapped.operator_root() as root:
        mounts = {path for path, mount in bootstrapped.lab.client(root).request("GET", "sys/auth").body["data"].items()
                  if mount["type"] == "kubernetes"}
    assert mounts == {"kubernetes/", f"{A}/"}


