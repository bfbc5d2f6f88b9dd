"""The image automation's inputs in flux/, checked the way the controllers read them, before
anything reaches a cluster (docs/image-automation.md):

    python -m vault_platform.gitops.image_markers     # one line per problem; exit 1 on any

The marker engine (image-automation-controller v1.1.0, the flux2 2.18.0 chart's): it walks the
automation's update path and reads only files ending in ``.yaml`` or ``.yml`` (or named
``Kustomization``) whose bytes contain the literal ``"$imagepolicy"`` (with the quotes:
internal/update/filereader.go, ScreeningLocalReader; the token is the quoted setter shorthand,
internal/update/setters.go). A screened file that does not parse as YAML is recorded as a
"problem file" and skipped without failing the run — so here it fails. A marker is a line
comment holding a one-key map, ``# {"$imagepolicy": "<namespace>:<policy>[:tag|:name|:digest]"}``
(kyaml setters2's short-hand reference): ``ns:name`` sets the whole image reference, ``:tag``,
``:name`` and ``:digest`` set that part of the policy's latest image (setters.go defines exactly
these four setters per policy). Setters are made only for the ImagePolicies in the
automation's own namespace (docs/spec/v1/imageupdateautomations.md): a marker naming another
namespace or a missing policy is silently never updated.

Also checked: each ImagePolicy's semver range parses and admits some version (semver_range.py,
Masterminds' rules); its ImageRepository is an ECR host with ``provider: aws`` (the reflector's
IRSA role is the only registry login the platform has); a whole-image marker names that
repository; the automation pushes to a branch of its own, never the one Flux deploys from.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from vault_platform.cli import one_line_errors, print_findings
from vault_platform.gitops.semver_range import RangeError, parse_range

REPO_ROOT = Path(__file__).resolve().parents[2]
FLUX_DIR = REPO_ROOT / "flux"
TOKEN = '"$imagepolicy"'
IMAGE_GROUP = "image.toolkit.fluxcd.io/"
SETTER_SUFFIXES = ("", ":tag", ":name", ":digest")
# The branch variable the automation checks out and targets (gitops/platform_vars.py).
DEPLOY_BRANCH = "${GITOPS_BRANCH}"
_NAME = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SETTER = re.compile(rf"^(?P<namespace>{_NAME}):(?P<policy>{_NAME})(?P<part>:tag|:name|:digest)?$")
_MARKER_COMMENT = re.compile(r"#\s*(?P<map>\{.*\})\s*$")
# <account>.dkr.ecr.<region>.amazonaws.com (or .amazonaws.com.cn), or the platform var that holds it.
_ECR_HOST = re.compile(r"^(\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?|\$\{ECR_REGISTRY\})$")


@dataclass(frozen=True)
class Marker:
    file: Path
    line: int
    value: str  # the scalar the marker sits on (an image reference, a tag, ...)
    namespace: str
    policy: str
    part: str  # "", ":tag", ":name" or ":digest"


def rel(path: Path, root: Path = REPO_ROOT) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def screened_files(flux_dir: Path) -> list[Path]:
    """The files the controller would read: by name, then by the literal token."""
    return [path for path in sorted(flux_dir.rglob("*")) if path.is_file()
            and (path.suffix in (".yaml", ".yml") or path.name == "Kustomization")
            and TOKEN in path.read_text(errors="replace")]


def _markers(path: Path, root: Path) -> tuple[list[Marker], list[str]]:
    markers, problems = [], []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if TOKEN not in line:
            continue
        where = f"{rel(path, root)}:{number}"
        comment = _MARKER_COMMENT.search(line)
        try:
            setter = json.loads(comment.group("map"))["$imagepolicy"] if comment else None
        except (json.JSONDecodeError, KeyError, TypeError):
            setter = None
        if not isinstance(setter, str):
            problems.append(f"{where}: {TOKEN} outside a marker comment; fix: end the image line with "
                            '# {"$imagepolicy": "<namespace>:<policy>"}')
            continue
        match = _SETTER.match(setter)
        if match is None:
            problems.append(f"{where}: marker {setter!r} is not <namespace>:<policy>[:tag|:name|:digest]; "
                            "fix: write e.g. flux-system:demo-app")
            continue
        value = line[:comment.start()].split(":", 1)[1].strip().strip("\"'") if ":" in line[:comment.start()] else ""
        markers.append(Marker(path, number, value, match["namespace"], match["policy"], match["part"] or ""))
    return markers, problems


def _documents(flux_dir: Path) -> Iterator[tuple[Path, dict]]:
    for path in sorted([*flux_dir.rglob("*.yaml"), *flux_dir.rglob("*.yml")]):
        try:
            documents = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError:
            continue  # reported below when it carries a marker; kustomize reports the rest
        for document in documents:
            if isinstance(document, dict):
                yield path, document


@dataclass(frozen=True)
class ImageObjects:
    repositories: dict[tuple[str, str], tuple[Path, dict]]
    policies: dict[tuple[str, str], tuple[Path, dict]]
    automations: list[tuple[Path, dict]]


def image_objects(flux_dir: Path) -> ImageObjects:
    repositories, policies, automations = {}, {}, []
    for path, document in _documents(flux_dir):
        if not str(document.get("apiVersion", "")).startswith(IMAGE_GROUP):
            continue
        metadata = document.get("metadata") or {}
        key = (metadata.get("namespace", "default"), metadata.get("name", ""))
        kind = document.get("kind")
        if kind == "ImageRepository":
            repositories[key] = (path, document)
        elif kind == "ImagePolicy":
            policies[key] = (path, document)
        elif kind == "ImageUpdateAutomation":
            automations.append((path, document))
    return ImageObjects(repositories, policies, automations)


def check_automation(path: Path, automation: dict, root: Path) -> list[str]:
    """It checks out the deploy branch and pushes to another one, with the merge-request options."""
    where = f"{rel(path, root)} (ImageUpdateAutomation {automation['metadata'].get('name')})"
    git = (automation.get("spec") or {}).get("git") or {}
    checkout = ((git.get("checkout") or {}).get("ref") or {}).get("branch")
    push = git.get("push") or {}
    problems = []
    if checkout != DEPLOY_BRANCH:
        problems.append(f"{where}: git.checkout.ref.branch is {checkout!r}; fix: check out {DEPLOY_BRANCH}, the branch Flux deploys from")
    if not push.get("branch") or push.get("branch") in (checkout, DEPLOY_BRANCH) or "${" in str(push.get("branch")):
        problems.append(f"{where}: git.push.branch is {push.get('branch')!r}: it must be a fixed branch of its own, "
                        "never the deploy branch; fix: push to flux/image-updates and merge through the merge request")
    if push.get("refspec"):
        problems.append(f"{where}: git.push.refspec is set: Flux then also pushes to the checkout branch; fix: remove it")
    options = push.get("options") or {}
    if "merge_request.create" not in options or options.get("merge_request.target") != DEPLOY_BRANCH:
        problems.append(f"{where}: git.push.options lack merge_request.create and merge_request.target: {DEPLOY_BRANCH}; "
                        "fix: add both, so GitLab opens the merge request")
    return problems


def check_policy(path: Path, policy: dict, repositories: dict, root: Path) -> list[str]:
    metadata = policy.get("metadata") or {}
    namespace, name = metadata.get("namespace", "default"), metadata.get("name")
    where = f"{rel(path, root)} (ImagePolicy {namespace}/{name})"
    spec = policy.get("spec") or {}
    problems = []
    semver = (spec.get("policy") or {}).get("semver")
    if semver is not None:
        text = str(semver.get("range", ""))
        try:
            if not parse_range(text).satisfiable():
                problems.append(f"{where}: semver range {text!r} admits no version; fix: write a range a tag can meet, e.g. '>=1.0.0'")
        except RangeError as err:
            problems.append(f"{where}: semver range {text!r} does not parse ({err}); fix: use Masterminds syntax, e.g. '>=1.0.0'")
    reference = (spec.get("imageRepositoryRef") or {})
    repository_key = (reference.get("namespace", namespace), reference.get("name"))
    if repository_key not in repositories:
        problems.append(f"{where}: imageRepositoryRef {'/'.join(map(str, repository_key))} is no ImageRepository in flux/; "
                        "fix: name an existing one")
    return problems


def check_repository(path: Path, repository: dict, root: Path) -> list[str]:
    metadata = repository.get("metadata") or {}
    where = f"{rel(path, root)} (ImageRepository {metadata.get('namespace', 'default')}/{metadata.get('name')})"
    spec = repository.get("spec") or {}
    image = str(spec.get("image", ""))
    host = image.split("/", 1)[0]
    if not _ECR_HOST.match(host) or spec.get("provider") != "aws":
        return [f"{where}: image {image!r} with provider {spec.get('provider')!r} is not an ECR host with provider: aws; "
                "fix: scan ${ECR_REGISTRY}/<repository> with provider: aws (the reflector's IRSA role is its only login)"]
    return []


def check_markers(markers: list[Marker], objects: ImageObjects, root: Path) -> list[str]:
    problems = []
    namespaces = {automation["metadata"].get("namespace", "default") for _, automation in objects.automations}
    paths = [(root / str(((automation.get("spec") or {}).get("update") or {}).get("path", "./"))).resolve()
             for _, automation in objects.automations]
    for marker in markers:
        where = f"{rel(marker.file, root)}:{marker.line}"
        setter = f"{marker.namespace}:{marker.policy}{marker.part}"
        if marker.namespace not in namespaces:
            problems.append(f"{where}: marker {setter} names namespace {marker.namespace}, where no ImageUpdateAutomation "
                            f"runs (setters exist only for policies in {', '.join(sorted(namespaces)) or 'none'}); "
                            "fix: name the automation's namespace")
            continue
        key = (marker.namespace, marker.policy)
        if key not in objects.policies:
            problems.append(f"{where}: marker {setter} names ImagePolicy {marker.namespace}/{marker.policy}, which flux/ "
                            "does not have; fix: add that ImagePolicy or correct the name")
            continue
        if not any(marker.file.resolve().is_relative_to(path) for path in paths):
            problems.append(f"{where}: marker {setter} is outside every ImageUpdateAutomation's update.path; "
                            "fix: move the file under it or widen update.path")
        if marker.part == "":
            problems += _whole_image(marker, where, objects)
    return problems


def _whole_image(marker: Marker, where: str, objects: ImageObjects) -> list[str]:
    """A whole-image marker is rewritten to <ImageRepository image>:<tag>: the line should already name it."""
    _, policy = objects.policies[(marker.namespace, marker.policy)]
    reference = (policy.get("spec") or {}).get("imageRepositoryRef") or {}
    found = objects.repositories.get((reference.get("namespace", marker.namespace), reference.get("name")))
    if found is None:
        return []  # check_policy names it
    image = str((found[1].get("spec") or {}).get("image", ""))
    repository = marker.value.split("@", 1)[0]
    repository = repository.rsplit(":", 1)[0] if ":" in repository.rsplit("/", 1)[-1] else repository
    if repository != image:
        return [f"{where}: image {marker.value!r} is not in {image}, the repository ImagePolicy {marker.namespace}/"
                f"{marker.policy} scans; fix: write {image}:<tag> (the automation would replace the whole reference)"]
    return []


def check(flux_dir: Path = FLUX_DIR, root: Path = REPO_ROOT) -> list[str]:
    """Every problem, one line each: file (and line or object), what is wrong, and the fix."""
    problems: list[str] = []
    markers: list[Marker] = []
    for path in screened_files(flux_dir):
        try:
            list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            at = f":{mark.line + 1}" if mark is not None else ""
            problems.append(f"{rel(path, root)}{at}: has an $imagepolicy marker but is not valid YAML, and the image "
                            "automation skips such a file without an error; fix: make it parse (yaml.safe_load_all)")
            continue
        found, bad = _markers(path, root)
        markers += found
        problems += bad
    objects = image_objects(flux_dir)
    for path, automation in objects.automations:
        problems += check_automation(path, automation, root)
    for path, policy in objects.policies.values():
        problems += check_policy(path, policy, objects.repositories, root)
    for path, repository in objects.repositories.values():
        problems += check_repository(path, repository, root)
    problems += check_markers(markers, objects, root)
    return problems


@one_line_errors
def main() -> int:
    return print_findings(check())


if __name__ == "__main__":
    sys.exit(main())
