"""What the image test runs on: Debian's buildah, skopeo and docker-registry (distribution),
a registry on 127.0.0.1, and a base image made here from Debian's archive with mmdebstrap.

No public registry can be pulled from on this kind of machine, so the Containerfile's default
base (the official Python image) is replaced through its BASE_IMAGE build argument by a Debian
bookworm root filesystem with python3 and pip: the same shape (a Python with pip), another
distribution. Everything else is the real thing: the project's Containerfile and CI script,
Buildah's chroot isolation, a registry speaking the Docker Registry HTTP API v2.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import IN_CI
from vault_platform.ops.emulator import free_port, stop_process_group

TOOLS = ("buildah", "skopeo", "docker-registry", "mmdebstrap")
# The base's packages: a Python with pip (as the official image has) and the CA store.
BASE_PACKAGES = ("python3", "python3-pip", "ca-certificates")
# The machine's CA bundle, copied into the base: where TLS to the package index is
# intercepted by a proxy, pip in the build stage must trust what this machine trusts.
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def require_image_tools() -> None:
    """Skip (fail under CI=true, where `make test` installed them) without the tools or root."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    reason = (f"missing {', '.join(missing)}: `make image-tools` (as root) installs them from Debian" if missing
              else None if os.geteuid() == 0 else "needs root (buildah's vfs storage, mmdebstrap's root mode)")
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"image test cannot run in CI: {reason}")
    pytest.skip(f"image test not run: {reason}")


@dataclass(frozen=True)
class ImageTools:
    """The environment buildah and skopeo run with: their own storage and registries.conf
    (the local registry is plain HTTP), so nothing of the machine's container setup is used."""

    root: Path
    registry: str  # host:port

    @property
    def env(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.root / "home"),
                "CONTAINERS_STORAGE_CONF": str(self.root / "storage.conf"),
                "CONTAINERS_REGISTRIES_CONF": str(self.root / "registries.conf"),
                "REGISTRY_AUTH_FILE": str(self.root / "auth.json"), "TMPDIR": str(self.root / "tmp")}

    def write_config(self) -> None:
        for directory in ("home", "tmp", "storage", "run"):
            (self.root / directory).mkdir(parents=True, exist_ok=True)
        (self.root / "storage.conf").write_text(
            f'[storage]\ndriver = "vfs"\ngraphroot = "{self.root / "storage"}"\nrunroot = "{self.root / "run"}"\n')
        (self.root / "registries.conf").write_text(
            f'unqualified-search-registries = []\n[[registry]]\nlocation = "{self.registry}"\ninsecure = true\n')
        (self.root / "auth.json").write_text("{}")

    def run(self, *argv: str, check: bool = True, timeout: float = 600, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
        if argv[0] == "skopeo":  # skopeo 1.9 (Debian 12) reads registries.conf's path only as a flag
            argv = ("skopeo", "--registries-conf", self.env["CONTAINERS_REGISTRIES_CONF"], *argv[1:])
        result = subprocess.run(argv, env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
        return result


@contextlib.contextmanager
def running_registry(root: Path) -> Iterator[str]:
    """Debian's docker-registry on 127.0.0.1 with filesystem storage under ``root``; yields host:port."""
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    config = root / "registry.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {root / 'data'}\n"
                      f"http:\n  addr: 127.0.0.1:{port}\nlog:\n  level: warn\n")
    with (root / "registry.log").open("wb") as log:
        process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"docker-registry did not start: {(root / 'registry.log').read_text()[-1000:]}")
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        stop_process_group(process)


def apt_sources() -> str:
    """The machine's apt sources (deb822 files first), for mmdebstrap: the archive apt uses here."""
    sources = sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))
    if sources:
        return "\n\n".join(path.read_text().strip() for path in sources) + "\n"
    return Path("/etc/apt/sources.list").read_text()


def debian_suite() -> str:
    fields = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
    return fields.get("VERSION_CODENAME", "bookworm").strip('"')


def push_debian_base(tools: ImageTools, work: Path, reference: str) -> None:
    """A Debian root filesystem with BASE_PACKAGES (mmdebstrap, essential variant, no docs),
    committed as a one-layer image by buildah and pushed to ``reference``."""
    rootfs = work / "base.tar"
    customize = [f"--customize-hook=copy-in {HOST_CA_BUNDLE} {HOST_CA_BUNDLE.parent}"] if HOST_CA_BUNDLE.exists() else []
    result = subprocess.run(
        ["mmdebstrap", "--variant=essential", "--mode=root", "--format=tar", "--quiet",
         f"--include={','.join(BASE_PACKAGES)}",
         *(f"--dpkgopt=path-exclude=/usr/share/{d}/*" for d in ("doc", "man", "locale", "info")),
         *customize, debian_suite(), str(rootfs), "-"],
        input=apt_sources(), capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise AssertionError(f"mmdebstrap failed ({result.returncode}): {result.stderr[-2000:]}")
    container = tools.run("buildah", "from", "scratch").stdout.strip()
    tools.run("buildah", "add", container, str(rootfs), "/")
    tools.run("buildah", "commit", "--quiet", "--rm", container, reference)
    tools.run("buildah", "push", "--quiet", reference)
    rootfs.unlink()
