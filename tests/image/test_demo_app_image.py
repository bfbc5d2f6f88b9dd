"""The demo app's image, built for real: GIVEN a Debian base made here and pushed to a local
docker-registry, WHEN CI's own script (.ci/build-image) builds images/demo-app/Containerfile
with Buildah and pushes it as v1.0.0, THEN what comes back from the registry (skopeo) runs as a
non-root user, holds no pip, imports its driver, serves with its default command, holds the
programs the Deployments run, and the same tag cannot be pushed twice.

What did not run here: ECR (its IMMUTABLE setting and scan on push are checked in the synth),
the runner's pod, the official Python base image (no public registry is reachable).
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest
import yaml

from tests.image.local_registry import ImageTools, push_debian_base, require_image_tools, running_registry
from vault_platform.images import DEMO_APP
from vault_platform.ops.emulator import free_port, stop_process_group

pytestmark = [pytest.mark.image, pytest.mark.xdist_group("image")]

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / ".ci" / "build-image"
TAG = "v1.0.0"
DEPLOYMENTS = [ROOT / "flux" / "apps" / "demo" / f"deployment-{name}.yaml" for name in ("app", "client")]
# pip in any form: the package, its metadata, a wheel kept for ensurepip/venv, its commands.
PIP = re.compile(r"(^|/)(pip|ensurepip)(/|$)|(^|/)pip-[^/]*\.(dist-info|egg-info|whl)$|(^|/)bin/pip[0-9.]*$")


@dataclass(frozen=True)
class Pushed:
    tools: ImageTools
    repository: str  # host:port/demo-app
    base: str
    build_seconds: float

    @property
    def image(self) -> str:
        return f"{self.repository}:{TAG}"


@pytest.fixture(scope="module")
def pushed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pushed]:
    """The base made and pushed once per session, then the demo app built and pushed by CI's script."""
    require_image_tools()
    root = tmp_path_factory.mktemp("image")
    with running_registry(root / "registry") as registry:
        tools = ImageTools(root / "containers", registry)
        tools.write_config()
        base = f"{registry}/base/python3:{time.strftime('%Y%m%d')}"
        push_debian_base(tools, root, base)
        started = time.monotonic()
        build = tools.run(str(BUILD_SCRIPT), DEMO_APP.name, f"{registry}/{DEMO_APP.name}", TAG, env={"BASE_IMAGE": base})
        assert f"build-image: pushed {registry}/{DEMO_APP.name}:{TAG}" in build.stdout
        yield Pushed(tools, f"{registry}/{DEMO_APP.name}", base, time.monotonic() - started)


def config(pushed: Pushed) -> dict:
    return json.loads(pushed.tools.run("skopeo", "inspect", "--config", f"docker://{pushed.image}").stdout)["config"]


@pytest.fixture(scope="module")
def filesystem(pushed: Pushed, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tarfile.TarInfo]:
    """The image's files after its layers (whiteouts applied), pulled back with skopeo."""
    layout = tmp_path_factory.mktemp("pulled") / "oci"
    pushed.tools.run("skopeo", "copy", "--quiet", f"docker://{pushed.image}", f"oci:{layout}:{TAG}")

    def blob(digest: str) -> Path:
        algorithm, value = digest.split(":")
        return layout / "blobs" / algorithm / value

    [manifest_ref] = json.loads((layout / "index.json").read_text())["manifests"]
    manifest = json.loads(blob(manifest_ref["digest"]).read_text())
    files: dict[str, tarfile.TarInfo] = {}
    for layer in manifest["layers"]:
        with gzip.open(blob(layer["digest"])) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                path = PurePosixPath("/", member.name)
                if path.name == ".wh..wh..opq":
                    files = {p: m for p, m in files.items() if not p.startswith(f"{path.parent}/")}
                elif path.name.startswith(".wh."):
                    gone = str(path.parent / path.name.removeprefix(".wh."))
                    files = {p: m for p, m in files.items() if p != gone and not p.startswith(f"{gone}/")}
                else:
                    files[str(path)] = member
    return files


def run_in_image(pushed: Pushed, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``argv`` in a container of the pushed image (buildah run, chroot isolation), as its user."""
    container = pushed.tools.run("buildah", "from", "--quiet", f"docker://{pushed.image}").stdout.strip()
    try:
        env_flags = [flag for key, value in (env or {}).items() for flag in ("--env", f"{key}={value}")]
        return pushed.tools.run("buildah", "run", "--isolation", "chroot", *env_flags, container, "--", *argv,
                                check=False, timeout=60)
    finally:
        pushed.tools.run("buildah", "rm", container)


def test_the_tag_is_in_the_registry_and_the_build_took(pushed: Pushed) -> None:
    tags = json.loads(pushed.tools.run("skopeo", "list-tags", f"docker://{pushed.repository}").stdout)["Tags"]
    assert tags == [TAG]
    print(f"\nbuild + push of {DEMO_APP.name}:{TAG} by .ci/build-image: {pushed.build_seconds:.1f} s")


def test_the_image_runs_as_nobody_with_the_apps_command(pushed: Pushed) -> None:
    image = config(pushed)
    assert image["User"] == "65534:65534"
    assert image.get("Entrypoint") is None and image["Cmd"] == ["python3", f"{DEMO_APP.app_dir}/app.py"]
    assert f"PYTHONPATH={DEMO_APP.app_dir}/deps" in image["Env"]


def test_the_final_image_holds_no_pip(filesystem: dict[str, tarfile.TarInfo]) -> None:
    assert [path for path in filesystem if PIP.search(path)] == []
    assert f"{DEMO_APP.app_dir}/deps/pg8000/native.py" in filesystem  # the scan saw the driver's files


def test_the_deployments_run_programs_the_image_holds(filesystem: dict[str, tarfile.TarInfo]) -> None:
    for deployment in DEPLOYMENTS:
        [container] = yaml.safe_load(deployment.read_text())["spec"]["template"]["spec"]["containers"]
        interpreter, program = container["command"]
        assert interpreter == "python3" and {"/usr/bin/python3", "/usr/local/bin/python3"} & set(filesystem)
        assert program in filesystem, f"{deployment.name}: {program} is not in the image"


def test_the_driver_imports_as_the_image_user_and_pip_does_not(pushed: Pushed) -> None:
    pins = dict(line.split(" ")[0].split("==") for line in (DEMO_APP.context / "requirements.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    probe = run_in_image(pushed, "python3", "-c", "import os, importlib.metadata as m, pg8000.native; "
                                                  "print(os.getuid(), os.getgid(), m.version('pg8000'))")
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["65534", "65534", pins["pg8000"]]
    pip = run_in_image(pushed, "python3", "-m", "pip", "--version")
    assert pip.returncode != 0 and "No module named pip" in pip.stderr


def test_the_default_command_serves_and_says_the_database_is_missing(pushed: Pushed) -> None:
    """The image's Cmd, started as the pod starts it (no database here): /healthz answers 503."""
    port = free_port()
    container = pushed.tools.run("buildah", "from", "--quiet", f"docker://{pushed.image}").stdout.strip()
    env = {"LISTEN_HOST": "127.0.0.1", "LISTEN_PORT": str(port), "DATABASE_HOST": "127.0.0.1", "DATABASE_NAME": "demo"}
    process = subprocess.Popen(["buildah", "run", "--isolation", "chroot",
                                *(flag for key, value in env.items() for flag in ("--env", f"{key}={value}")),
                                container, "--", *config(pushed)["Cmd"]],
                               env=pushed.tools.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                raise AssertionError("/healthz answered 200 without a database")
            except urllib.error.HTTPError as err:
                assert (err.code, json.loads(err.read())) == (503, {"ok": False})
                break
            except (urllib.error.URLError, OSError):
                assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
                assert time.monotonic() < deadline, "the image's app did not listen within 20 s"
                time.sleep(0.2)
    finally:
        stop_process_group(process)
        pushed.tools.run("buildah", "rm", container)


def test_a_tag_is_pushed_once(pushed: Pushed) -> None:
    """CI refuses an existing tag before building (ECR's IMMUTABLE repositories refuse the push too)."""
    again = pushed.tools.run(str(BUILD_SCRIPT), DEMO_APP.name, pushed.repository, TAG, check=False,
                             env={"BASE_IMAGE": pushed.base})
    assert again.returncode == 1
    assert again.stderr.strip() == f"build-image: {pushed.image} already exists and tags are immutable; fix: tag a new version"


@pytest.mark.parametrize("tag", ["latest", "1.4.0", "v1.4", "v1.4.0-rc.1", "v01.4.0"])
def test_only_release_tags_are_built(tag: str) -> None:
    """No tools needed: the script stops before asking the registry."""
    result = subprocess.run([str(BUILD_SCRIPT), DEMO_APP.name, "127.0.0.1:1/demo-app", tag], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == f"build-image: tag '{tag}' is not a release tag vMAJOR.MINOR.PATCH; fix: git tag v1.4.0"
