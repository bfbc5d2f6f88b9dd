"""What a chart bump or a values change does to the objects a cluster gets, for the plan
summary: each object added, removed or changed (kind/name and the changed fields) against
the renders the previous plan saved, so a reviewer sees what `helm upgrade` will do.

The renders are saved per environment (gzipped JSON, keyed ``<cluster> <release> <Kind>
<namespace>/<name>``) beside the flow matrix, which CI keeps between pipelines.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from pathlib import Path

from vault_platform.rendering.releases import ClusterRender

MAX_FIELDS = 8  # changed fields listed per object; the rest are counted


def snapshot(renders: Iterable[ClusterRender]) -> dict[str, dict]:
    """Every chart-rendered object of every cluster, by a key that survives re-renders."""
    found: dict[str, dict] = {}
    for render in renders:
        for release in render.releases:
            label = f"{release.name} {release.chart}@{release.version}"
            for obj in render.objects_of(release):
                meta = obj.get("metadata") or {}
                name = f"{meta.get('namespace') or release.namespace}/{meta.get('name')}"
                found[f"{render.cluster.key} {release.name} {obj.get('kind')} {name}"] = {"release": label, "object": obj}
    return found


def load(path: Path) -> dict[str, dict] | None:
    return json.loads(gzip.decompress(path.read_bytes())) if path.is_file() else None


def save(path: Path, renders: dict[str, dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps(renders, sort_keys=True).encode(), mtime=0))


def changed_fields(old: object, new: object, path: str = "") -> list[str]:
    """Dotted paths where ``old`` and ``new`` differ (lists compared item by item)."""
    if isinstance(old, dict) and isinstance(new, dict):
        fields = []
        for key in sorted(set(old) | set(new), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in old or key not in new:
                fields.append(where)
            else:
                fields += changed_fields(old[key], new[key], where)
        return fields
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [field for index, (a, b) in enumerate(zip(old, new)) for field in changed_fields(a, b, f"{path}[{index}]")]
    return [] if old == new else [path or "<root>"]


def changes(base: dict[str, dict] | None, new: dict[str, dict]) -> list[str]:
    """One line per added, removed or changed object; base None: no earlier renders to compare."""
    if base is None:
        return [f"no earlier renders to compare with: {len(new)} objects saved as the base of the next plan"]
    lines = []
    for key in sorted(set(base) | set(new)):
        if key not in base:
            lines.append(f"**added** `{key}` ({new[key]['release']})")
        elif key not in new:
            lines.append(f"**removed** `{key}` ({base[key]['release']})")
        else:
            fields = changed_fields(base[key]["object"], new[key]["object"])
            if fields:
                shown = ", ".join(f"`{field}`" for field in fields[:MAX_FIELDS])
                more = f" and {len(fields) - MAX_FIELDS} more" if len(fields) > MAX_FIELDS else ""
                release = new[key]["release"] if base[key]["release"] == new[key]["release"] else \
                    f"{base[key]['release']} -> {new[key]['release']}"
                lines.append(f"**changed** `{key}` ({release}): {shown}{more}")
    return lines
