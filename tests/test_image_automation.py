"""Flux image automation, offline: the marker engine's rules and the checks built on them
(vault_platform/gitops/image_markers.py), the semver pick (vault_platform/gitops/semver_range.py),
and the automation's shape. Each check is shown failing on the defect it is for, in a copy of
flux/ with that one defect written in.

What runs on a cluster (the controllers, ECR, GitLab's push options) is not here:
docs/image-automation.md "What was checked here, and what was not"."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from vault_platform.gitops import image_markers
from vault_platform.gitops.semver_range import parse_range, parse_version

REPO_ROOT = Path(__file__).resolve().parents[1]
AUTOMATION_DIR = "flux/infrastructure/image-automation"
# The image line the demo Deployments carry (the image half of issue 23 writes it; agreed form).
AGREED_LINE = 'image: ${ECR_REGISTRY}/demo-app:v1.0.0 # {"$imagepolicy": "flux-system:demo-app"}'
# The same marker on the repository the tooling stack makes (<environment>/demo-app).
ECR_LINE = 'image: ${ECR_REGISTRY}/${ENVIRONMENT_NAME}/demo-app:v1.0.0 # {"$imagepolicy": "flux-system:demo-app"}'
COSIGN = "sha256-" + "3f" * 32 + ".sig"
TAGS = ["v1.3.0", "v1.4.0", "v1.4.0-rc.1", "1.2.9", "latest", COSIGN, "v1.10.0", "v1.11.0-rc.2", "v1.9"]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A flux/ holding a copy of the automation's directory (all the checks read besides markers)."""
    shutil.copytree(REPO_ROOT / AUTOMATION_DIR, tmp_path / AUTOMATION_DIR)
    return tmp_path


def deployment(tree: Path, image_line: str, name: str = "deployment-app.yaml", directory: str = "flux/apps/demo") -> Path:
    """A Deployment whose one container's image line is ``image_line``."""
    path = tree / directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: demo-app\n  namespace: demo\nspec:\n"
        "  template:\n    spec:\n      containers:\n        - name: app\n"
        f"          {image_line}\n")
    return path


def problems(tree: Path) -> list[str]:
    return image_markers.check(tree / "flux", tree)


def edit(tree: Path, file: str, old: str, new: str) -> None:
    path = tree / AUTOMATION_DIR / file
    text = path.read_text()
    assert old in text, f"{file} no longer has {old!r}"
    path.write_text(text.replace(old, new))


# --- The repository's own tree ---------------------------------------------------------------------

def test_the_flux_tree_passes() -> None:
    assert image_markers.check() == []


def test_the_automation_lives_in_the_tooling_tree_only() -> None:
    tooling = (REPO_ROOT / "flux/clusters/tooling/kustomization.yaml").read_text()
    application = (REPO_ROOT / "flux/clusters/application/kustomization.yaml").read_text()
    assert "image-automation.yaml" in tooling and "image-automation" not in application
    objects = image_markers.image_objects(REPO_ROOT / "flux")
    assert [path.parent.relative_to(REPO_ROOT).as_posix() for path, _ in objects.automations] == [AUTOMATION_DIR]
    assert set(objects.policies) == {("flux-system", "demo-app")}


# --- The agreed marker line ------------------------------------------------------------------------

def test_a_marker_on_the_platforms_repository_resolves(tree: Path) -> None:
    deployment(tree, ECR_LINE)
    deployment(tree, ECR_LINE, "deployment-client.yaml")
    assert problems(tree) == []


def test_the_agreed_line_resolves_but_names_a_repository_ecr_does_not_have(tree: Path) -> None:
    """The agreed line's marker parses and its policy exists; its repository is not the one the
    tooling stack creates (ECR names it <environment>/demo-app), so the first image would not
    pull: the one problem is that, with the fix."""
    path = deployment(tree, AGREED_LINE)
    (problem,) = problems(tree)
    assert problem == (f"{path.relative_to(tree)}:11: image '${{ECR_REGISTRY}}/demo-app:v1.0.0' is not in "
                       "${ECR_REGISTRY}/${ENVIRONMENT_NAME}/demo-app, the repository ImagePolicy flux-system/demo-app "
                       "scans; fix: write ${ECR_REGISTRY}/${ENVIRONMENT_NAME}/demo-app:<tag> (the automation would "
                       "replace the whole reference)")


@pytest.mark.parametrize("part", [":tag", ":name", ":digest"])
def test_the_part_setters_resolve(tree: Path, part: str) -> None:
    deployment(tree, f'newTag: v1.0.0 # {{"$imagepolicy": "flux-system:demo-app{part}"}}', "kustomization-images.yaml")
    assert problems(tree) == []


# --- Each check, failing on its defect ------------------------------------------------------------

def test_a_marker_naming_a_missing_policy_fails(tree: Path) -> None:
    path = deployment(tree, ECR_LINE.replace("flux-system:demo-app", "flux-system:demo-ap"))
    assert problems(tree) == [
        f"{path.relative_to(tree)}:11: marker flux-system:demo-ap names ImagePolicy flux-system/demo-ap, which flux/ "
        "does not have; fix: add that ImagePolicy or correct the name"]


def test_a_marker_naming_another_namespace_fails(tree: Path) -> None:
    deployment(tree, ECR_LINE.replace("flux-system:demo-app", "demo:demo-app"))
    (problem,) = problems(tree)
    assert "names namespace demo, where no ImageUpdateAutomation runs" in problem and "fix: " in problem


@pytest.mark.parametrize("setter", ["flux-system:demo-app:version", "demo-app", "flux-system/demo-app"])
def test_a_malformed_marker_fails(tree: Path, setter: str) -> None:
    deployment(tree, ECR_LINE.replace("flux-system:demo-app", setter))
    (problem,) = problems(tree)
    assert f"marker {setter!r} is not <namespace>:<policy>[:tag|:name|:digest]" in problem


def test_a_file_with_a_marker_that_does_not_parse_fails(tree: Path) -> None:
    """The controller records such a file as a problem and carries on, so nothing would update it."""
    path = deployment(tree, ECR_LINE)
    path.write_text(path.read_text() + "      - name: [unclosed\n")
    (problem,) = problems(tree)
    assert problem.startswith(f"{path.relative_to(tree)}:12: has an $imagepolicy marker but is not valid YAML")


def test_screening_follows_the_controller(tree: Path) -> None:
    """Only .yaml/.yml files with the quoted token are read: a .json file or an unquoted mention is not."""
    deployment(tree, ECR_LINE.replace("flux-system:demo-app", "flux-system:nope"), "notes.json")
    deployment(tree, "image: x # $imagepolicy flux-system:nope", "unquoted.yaml")
    assert problems(tree) == []
    deployment(tree, ECR_LINE.replace("flux-system:demo-app", "flux-system:nope"), "other.yml")
    assert len(problems(tree)) == 1


def test_a_marker_outside_the_update_path_fails(tree: Path) -> None:
    deployment(tree, ECR_LINE, directory="flux/infrastructure/elsewhere")
    (problem,) = problems(tree)
    assert "outside every ImageUpdateAutomation's update.path" in problem


@pytest.mark.parametrize(("text", "says"), [
    ('">=1.0.0 <1.0.0"', "admits no version"),
    ('">=2.0.0, <1.5.0 || ~0.1.2 !=0.1.3 <0.1.3 >0.1.2"', "admits no version"),
    ('"latest"', "does not parse"),
    ('">== 1.0.0"', "does not parse"),
    ('">=1.0.0 ||"', "does not parse"),
])
def test_a_semver_range_that_admits_nothing_fails(tree: Path, text: str, says: str) -> None:
    edit(tree, "imagepolicy.yaml", 'range: ">=1.0.0"', f"range: {text}")
    (problem,) = problems(tree)
    assert problem.startswith(f"{AUTOMATION_DIR}/imagepolicy.yaml (ImagePolicy flux-system/demo-app): semver range")
    assert says in problem and "fix: " in problem


@pytest.mark.parametrize(("old", "new"), [
    ('image: "${ECR_REGISTRY}/${ENVIRONMENT_NAME}/demo-app"', "image: ghcr.io/example/demo-app"),
    ('image: "${ECR_REGISTRY}/${ENVIRONMENT_NAME}/demo-app"', "image: 123456789012.dkr.ecr.eu-west-1.example.com/demo-app"),
    ("provider: aws", "provider: generic"),
    ("  provider: aws\n", ""),
])
def test_an_image_that_is_not_ecr_with_provider_aws_fails(tree: Path, old: str, new: str) -> None:
    edit(tree, "imagerepository.yaml", old, new)
    (problem,) = problems(tree)
    assert problem.startswith(f"{AUTOMATION_DIR}/imagerepository.yaml (ImageRepository flux-system/demo-app): image ")
    assert "is not an ECR host with provider: aws; fix: " in problem


def test_a_concrete_ecr_host_passes(tree: Path) -> None:
    edit(tree, "imagerepository.yaml", 'image: "${ECR_REGISTRY}/${ENVIRONMENT_NAME}/demo-app"',
         "image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/demo/demo-app")
    assert problems(tree) == []


@pytest.mark.parametrize(("old", "new", "says"), [
    ("branch: flux/image-updates", 'branch: "${GITOPS_BRANCH}"', "never the deploy branch"),
    ("      branch: flux/image-updates\n", "", "never the deploy branch"),
    ("      branch: flux/image-updates\n", "      branch: flux/image-updates\n      refspec: refs/heads/main:refs/heads/auto\n",
     "git.push.refspec is set"),
    ('merge_request.target: "${GITOPS_BRANCH}"', "merge_request.target: release", "lack merge_request.create"),
    ('        branch: "${GITOPS_BRANCH}"\n    commit:', "        branch: flux/image-updates\n    commit:", "git.checkout.ref.branch"),
])
def test_an_automation_that_could_push_to_the_deploy_branch_fails(tree: Path, old: str, new: str, says: str) -> None:
    edit(tree, "imageupdateautomation.yaml", old, new)
    found = problems(tree)
    assert found and all(line.startswith(f"{AUTOMATION_DIR}/imageupdateautomation.yaml (ImageUpdateAutomation image-updates): ")
                         for line in found)
    assert any(says in line for line in found), found


# --- The semver pick ------------------------------------------------------------------------------

def test_the_policy_picks_what_a_person_expects() -> None:
    policy = yaml.safe_load((REPO_ROOT / AUTOMATION_DIR / "imagepolicy.yaml").read_text())
    chosen = parse_range(policy["spec"]["policy"]["semver"]["range"])
    # v1.10.0 beats v1.4.0 (numbers, not text); rc tags, latest, cosign signatures and v1.9
    # (two parts: not a version for Flux) are never picked; the tag comes back as pushed.
    assert chosen.latest(TAGS) == "v1.10.0"
    assert chosen.latest(["v1.3.0", "v1.4.0", "v1.4.0-rc.1", "1.2.9", "latest", COSIGN]) == "v1.4.0"
    assert chosen.latest(["v1.4.0-rc.1", "latest", COSIGN]) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("~1.4", "v1.4.0"),                 # the 1.4 line only
    ("1.3.x", "v1.3.0"),                # a wildcard patch
    ("^1.x-0", "v1.11.0-rc.2"),         # a range naming a pre-release lets pre-releases in
    (">=1.4.0-0 <1.5.0", "v1.4.0"),     # a release beats its own rc
    (">=1.4.0-0 <1.4.0", "v1.4.0-rc.1"),
    ("<1.3.0", "1.2.9"),                # a tag without the v is a version too
    ("1.3.0 - 1.4.0", "v1.4.0"),        # hyphen range: both ends included
    (">=2.0.0 || <1.3.0", "1.2.9"),
    (">=2.0.0", None),
])
def test_ranges_pick_by_masterminds_rules(text: str, expected: str | None) -> None:
    assert parse_range(text).latest(TAGS) == expected


def test_which_tags_are_versions_for_flux() -> None:
    assert parse_version("v1.4.0") is not None and parse_version("1.4.0") is not None
    assert parse_version("v1.4.0").original == "v1.4.0"
    for tag in ("latest", COSIGN, "v1.9", "1", "v1.4.0.1", "01.2.3", "main-3f2a9c1"):
        assert parse_version(tag) is None, tag
