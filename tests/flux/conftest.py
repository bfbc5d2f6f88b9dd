"""Render every kustomization under flux/ once per session (in parallel)."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import flux_checks  # noqa: E402


class Rendered(dict):
    """Directory -> rendered objects; a directory that failed to build maps to its error."""

    def objects(self, directory: Path) -> list[dict]:
        value = self[Path(directory).resolve()]
        if isinstance(value, flux_checks.BuildError):
            pytest.fail(str(value))
        return value


def _build(directory: Path):
    try:
        return flux_checks.build(directory)
    except flux_checks.BuildError as err:
        return err


@pytest.fixture(scope="session")
def rendered() -> Rendered:
    dirs = [d.resolve() for d in flux_checks.kustomization_dirs()]
    with ThreadPoolExecutor(max_workers=4) as pool:
        return Rendered(zip(dirs, pool.map(_build, dirs)))


@pytest.fixture(scope="session")
def clusters(rendered) -> dict[str, list[tuple[dict, Path]]]:
    """Cluster -> its Flux Kustomizations, each with the directory it applies."""
    result = {}
    for cluster_dir in sorted((flux_checks.FLUX_DIR / "clusters").iterdir()):
        items = []
        for obj in rendered.objects(cluster_dir):
            if obj.get("kind") == "Kustomization":
                path = (flux_checks.REPO_ROOT / obj["spec"]["path"]).resolve()
                items.append((obj, path))
        result[cluster_dir.name] = items
    return result
