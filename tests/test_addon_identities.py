"""Each add-on's service account in Kubernetes is the one its IAM role trusts.

The role's trust policy names ``system:serviceaccount:<namespace>:<name>`` from the add-on's
IrsaIdentity (vault_platform/addons/); the manifests in flux/ and the Terraform-installed
charts' values name the account again. Nothing else links the two, so a rename on either
side would break IRSA only on the cluster: these tests hold them equal.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from vault_platform.addons import Addon, FluxInstalled, registry, with_irsa
from vault_platform.cluster_roles import TOOLING

REPO_ROOT = Path(__file__).resolve().parents[1]
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"

FLUX_IRSA_ADDONS = [addon for addon in with_irsa(registry().values())
                    if isinstance(addon.install, FluxInstalled) and addon.role_arn_var]
# Flux-installed add-ons whose account a Terraform-installed chart creates and annotates (the
# image reflector's, by the flux2 chart: vault_platform/addons/flux.py): no platform-vars key.
CHART_ANNOTATED_ADDONS = [addon for addon in with_irsa(registry().values())
                          if isinstance(addon.install, FluxInstalled) and not addon.role_arn_var]
CHART_IRSA_ADDONS = [addon for addon in with_irsa(registry().values()) if addon.chart is not None]


def annotated_accounts(directory: Path) -> dict[tuple[str, str], dict]:
    """(namespace, name) -> annotations of every service account the manifests below
    ``directory`` declare: ServiceAccount objects and, in HelmReleases, every named
    ``serviceAccount`` block of the values at any depth (``server.serviceAccount`` for
    Vault's chart), in the release's targetNamespace."""
    found: dict[tuple[str, str], dict] = {}
    for path in sorted(directory.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not isinstance(doc, dict):
                continue
            if doc.get("kind") == "ServiceAccount":
                meta = doc.get("metadata") or {}
                found[(meta.get("namespace", ""), meta.get("name", ""))] = meta.get("annotations") or {}
            elif doc.get("kind") == "HelmRelease":
                spec = doc.get("spec") or {}
                for account in _service_account_blocks(spec.get("values") or {}):
                    found[(spec.get("targetNamespace", ""), account["name"])] = account.get("annotations") or {}
    return found


def _service_account_blocks(values: object):
    if isinstance(values, dict):
        for key, value in values.items():
            if key == "serviceAccount" and isinstance(value, dict) and value.get("name"):
                yield value
            else:
                yield from _service_account_blocks(value)


def identity_problems(addon: Addon, flux_dir: Path) -> list[str]:
    """What in ``flux_dir`` (the add-on's flux/ path) disagrees with its IRSA identity."""
    identity, wanted = addon.irsa, f"${{{addon.role_arn_var}}}"
    accounts = annotated_accounts(flux_dir)
    problems = []
    if (identity.namespace, identity.service_account) not in accounts:
        problems.append(f"{addon.install.path}: no service account {identity.subject} (the IAM role of add-on "
                        f"'{addon.name}' trusts only that one; found: {sorted('/'.join(k) for k in accounts)})")
    elif accounts[(identity.namespace, identity.service_account)].get(ROLE_ANNOTATION) != wanted:
        problems.append(f"{addon.install.path}: service account {identity.subject} lacks {ROLE_ANNOTATION}: \"{wanted}\"")
    for (namespace, name), annotations in accounts.items():
        if ROLE_ANNOTATION in annotations and (namespace, name) != (identity.namespace, identity.service_account):
            problems.append(f"{addon.install.path}: {namespace}/{name} carries the role of add-on '{addon.name}', "
                            f"whose trust names {identity.subject}")
    return problems


@pytest.mark.parametrize("addon", FLUX_IRSA_ADDONS, ids=lambda addon: addon.name)
def test_flux_manifests_name_the_service_account_the_role_trusts(addon: Addon) -> None:
    assert addon.role_arn_var, f"{addon.name}: a Flux-installed add-on with a role must export it (role_arn_var)"
    assert not identity_problems(addon, REPO_ROOT / addon.install.path)


@pytest.mark.parametrize("addon", CHART_IRSA_ADDONS, ids=lambda addon: addon.name)
def test_terraform_charts_name_the_service_account_the_role_trusts(addon: Addon, default_stacks) -> None:
    for role in addon.cluster_roles:
        releases = default_stacks[f"{role}-platform"].resources("helm_release").values()
        release = next(r for r in releases if r["name"] == (addon.chart.release or addon.chart.name))
        account = json.loads(release["values"][0])["serviceAccount"]
        assert (release["namespace"], account["name"]) == (addon.irsa.namespace, addon.irsa.service_account), role
        assert account["annotations"][ROLE_ANNOTATION].startswith("${data.terraform_remote_state."), role


@pytest.mark.parametrize("addon", CHART_ANNOTATED_ADDONS, ids=lambda addon: addon.name)
def test_chart_annotated_accounts_carry_their_role(addon: Addon, default_stacks) -> None:
    for role in addon.cluster_roles:
        releases = default_stacks[f"{role}-platform"].resources("helm_release").values()
        annotated = [json.loads(r["values"][0]) for r in releases if ROLE_ANNOTATION in (r.get("values") or [""])[0]]
        arns = [value for values in annotated for value in _annotations(values)]
        assert [arn for arn in arns if f"{addon.irsa.construct_id}_role" in arn], (
            f"{role}-platform: no chart annotates {addon.irsa.subject} with the role of add-on '{addon.name}'")
    # The account's name is the chart's, not ours: tests/rendering renders it and holds it equal.


def _annotations(values: object):
    if isinstance(values, dict):
        for key, value in values.items():
            if key == ROLE_ANNOTATION:
                yield value
            else:
                yield from _annotations(value)


def test_a_renamed_service_account_is_caught(tmp_path: Path) -> None:
    """The check above fails on a rename in flux/ (here: the GitLab build pods' account)."""
    addon = registry()["gitlab-runner"]
    assert addon.runs_on(TOOLING)
    copy = tmp_path / "gitlab-runner"
    shutil.copytree(REPO_ROOT / addon.install.path, copy)
    manifest = copy / "serviceaccount.yaml"
    manifest.write_text(manifest.read_text().replace("name: gitlab-runner-build", "name: gitlab-runner-jobs"))
    (problem, *more) = identity_problems(addon, copy)
    assert "no service account gitlab-runner/gitlab-runner-build" in problem
    assert any("gitlab-runner/gitlab-runner-jobs carries the role" in line for line in more)
