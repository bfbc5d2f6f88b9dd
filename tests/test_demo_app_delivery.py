"""Where the demo pods get their image (docs/image-delivery.md), checked on the synth: the
image the Deployments name is the tooling stack's ECR repository, the application cluster's
platform-vars say where that is, and its nodes may pull from it. The build itself is in
tests/image/ (a real Buildah build through a local registry)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.synth import StackJson
from vault_platform.images import DEMO_APP, ImagePathError

ROOT = Path(__file__).resolve().parents[1]
DEPLOYMENTS = {name: ROOT / "flux" / "apps" / "demo" / f"deployment-{name}.yaml" for name in ("app", "client")}
INITIAL_TAG = "v1.0.0"
KUSTOMIZATION = ROOT / "flux" / "apps" / "demo" / "kustomization.yaml"
# On the tag only: a whole-image marker would write one account's registry host into Git.
MARKER = '# {"$imagepolicy": "flux-system:demo-app:tag"}'


def pod(name: str) -> dict:
    return yaml.safe_load(DEPLOYMENTS[name].read_text())["spec"]["template"]


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_both_deployments_run_the_one_image_by_tag_with_the_policy_marker(name: str) -> None:
    """The Deployments name the image; kustomize's images entry gives it the ECR repository and
    the tag, and the tag line carries the image automation's marker."""
    [container] = pod(name)["spec"]["containers"]
    images = {image["name"]: image for image in yaml.safe_load(KUSTOMIZATION.read_text())["images"]}
    image = images[container["image"]]
    assert (image["newName"], image["newTag"]) == (f"${{ECR_REGISTRY}}/${{ENVIRONMENT_NAME}}/{DEMO_APP.name}", INITIAL_TAG)
    [line] = [line for line in KUSTOMIZATION.read_text().splitlines() if "newTag:" in line]
    assert line.strip() == f"newTag: {INITIAL_TAG} {MARKER}"
    # The program is one the image holds (the Containerfile copies the context's *.py there).
    interpreter, program = container["command"]
    assert interpreter == "python3" and DEMO_APP.source_of(program).is_file()


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_nothing_is_installed_at_start_and_nothing_reaches_the_package_index(name: str) -> None:
    template = pod(name)
    assert "initContainers" not in template["spec"]
    assert not [v for v in template["spec"].get("volumes", []) if v["name"] in ("scripts", "deps", "tmp")]
    excluded = template["metadata"].get("annotations", {}).get("traffic.sidecar.istio.io/excludeOutboundPorts", "")
    assert "443" not in excluded.split(",")
    assert "configMapGenerator" not in (ROOT / "flux" / "apps" / "demo" / "kustomization.yaml").read_text()


def test_a_command_naming_a_file_the_image_lacks_is_one_line() -> None:
    with pytest.raises(ImagePathError, match=r"^/scripts/app.py: the demo-app image holds its programs in "
                                             r"/opt/demo-app/ \(app.py, client.py, remove-pip.py\); fix: "):
        DEMO_APP.source_of("/scripts/app.py")


def test_the_image_the_deployments_name_is_the_tooling_stacks_repository(default_stacks: dict[str, StackJson]) -> None:
    """${ECR_REGISTRY}/${ENVIRONMENT_NAME}/demo-app, with the application cluster's platform-vars,
    is the repository the tooling stack makes (<environment>/demo-app, immutable tags, scanned)
    in the tooling account's registry."""
    application = default_stacks["application-platform"].one("kubernetes_config_map_v1")["data"]
    tooling = default_stacks["tooling-platform"].one("kubernetes_config_map_v1")["data"]
    assert application["ECR_REGISTRY"] == tooling["ECR_REGISTRY"]
    assert re.fullmatch(r"\$\{data\.terraform_remote_state\.cross-stack-reference-input-tooling\.outputs\..*account_id\}"
                        r"\.dkr\.ecr\.eu-west-1\.amazonaws\.com", application["ECR_REGISTRY"])
    repositories = {r["name"]: r for r in default_stacks["tooling"].resources("aws_ecr_repository").values()}
    repository = repositories[f"{application['ENVIRONMENT_NAME']}/{DEMO_APP.name}"]
    assert repository["image_tag_mutability"] == "IMMUTABLE"
    assert repository["image_scanning_configuration"]["scan_on_push"] is True


def test_the_application_nodes_may_pull_from_it(default_stacks: dict[str, StackJson]) -> None:
    """One account per environment: the nodes' AmazonEC2ContainerRegistryReadOnly reads every
    repository of the account, and no repository policy narrows that."""
    stack = default_stacks["application"]
    node_role = next(a for a, r in stack.resources("aws_iam_role").items() if r["name"].endswith("-node"))
    attached = {p["policy_arn"] for p in stack.resources("aws_iam_role_policy_attachment").values()
                if p["role"] == f"${{aws_iam_role.{node_role}.name}}"}
    assert "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly" in attached
    assert not default_stacks["tooling"].resources("aws_ecr_repository_policy")
