"""Where the pinned chart archives are, and the charts that cannot be obtained here.

The archives are ``<chart>-<version>.tgz`` (``helm pull`` output) in the directory named by
the environment variable CHARTS_DIR, by default ``../shared/charts`` relative to the
repository. A pin without an archive is an error, not a skip: a HelmRelease pinned to a
version that was never released fails the same way on a cluster.
"""

from __future__ import annotations

import os
from pathlib import Path

from vault_platform.binaries import PROJECT_ROOT
from vault_platform.errors import ConfigError

CHARTS_DIR_VARIABLE = "CHARTS_DIR"
DEFAULT_CHARTS_DIR = "../shared/charts"

# Charts whose archive cannot be obtained where the tests run, with the reason. Only these
# are skipped; every other missing archive fails.
UNAVAILABLE: dict[str, str] = {
    "gitlab-runner": "its chart is published from gitlab.com (gitlab-org/charts/gitlab-runner), "
                     "which this CI cannot reach; nothing of its release is rendered",
}

# Archives built from the release's git tag without CRDs its release build generates, with
# the file that carries them (the charts directory's README): installed beside the render
# exactly when the chart's own switch would render them.
SEPARATE_CRDS: dict[tuple[str, str], tuple[str, str]] = {
    # external-secrets generates templates/crds/ from deploy/crds/bundle.yaml at release time.
    ("external-secrets", "0.17.0"): ("external-secrets-0.17.0-crds.yaml", "installCRDs"),
}


def charts_dir() -> Path:
    configured = os.environ.get(CHARTS_DIR_VARIABLE) or DEFAULT_CHARTS_DIR
    return (PROJECT_ROOT / configured).resolve()


def archive(chart: str, version: str, *, source: str, directory: Path | None = None) -> Path:
    """The archive of ``chart`` at ``version``; ConfigError naming ``source`` when absent."""
    directory = directory or charts_dir()
    path = directory / f"{chart}-{version}.tgz"
    if path.is_file():
        return path
    others = sorted(p.name for p in directory.glob(f"{chart}-*.tgz")) if directory.is_dir() else []
    found = f"the directory has {', '.join(others)}" if others else f"the directory has no {chart} archive"
    raise ConfigError(
        f"{chart}.version", version,
        f"has no chart archive {path.name} in {CHARTS_DIR_VARIABLE}={directory} ({found})",
        "pin a released version of the chart, or put its archive there (helm pull "
        f"{chart} --version {version})", source=source)
