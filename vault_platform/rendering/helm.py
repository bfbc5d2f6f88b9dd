"""``helm template`` of one chart release, as the installer runs it, once per process.

Helm's errors end the render with one line naming the release's source; what Helm writes to
stderr on success is a warning, returned with the objects (the caller fails on any warning
without a written reason, ``ACCEPTED_WARNINGS``).
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from vault_platform.binaries import kube_tool
from vault_platform.errors import ConfigError
from vault_platform.rendering import charts

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Helm warnings that are understood, keyed "<chart>-<version>: <start of the warning's
# message>", with why they are harmless (like the accepted policy findings). Any other
# warning fails the render.
ACCEPTED_WARNINGS: dict[str, str] = {
    "vault-0.30.0: destination for vault.server.affinity is a table. Ignoring non-table value":
        "the chart's default server.affinity is a template string (anti-affinity per hostname); "
        "flux/infrastructure/vault/helmrelease.yaml replaces it with a table (one raft peer per zone). "
        "Helm keeps our table and drops the default, which is what we want; "
        "tests/rendering/test_helm_render.py holds the rendered StatefulSet to the zone rule.",
}


@dataclass(frozen=True)
class Rendered:
    objects: tuple[dict, ...]
    warnings: tuple[str, ...]


def template(chart: str, version: str, release_name: str, namespace: str, kube_version: str,
             values: dict, *, source: str) -> Rendered:
    """The objects Helm renders (CRDs included), in Helm's order. ``source`` names the file
    or add-on that declares the release, for the one-line error."""
    return _template(chart, version, release_name, namespace, kube_version,
                     json.dumps(values, sort_keys=True), source, charts.charts_dir())


@functools.lru_cache(maxsize=None)
def _template(chart: str, version: str, release_name: str, namespace: str, kube_version: str,
              values_json: str, source: str, directory: Path) -> Rendered:
    archive = charts.archive(chart, version, source=source, directory=directory)
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="values-") as values_file:
        values_file.write(values_json)
        values_file.flush()
        result = subprocess.run(
            [str(kube_tool("helm")), "template", release_name, str(archive), "--namespace", namespace,
             "--kube-version", kube_version, "--include-crds", "--values", values_file.name],
            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        problem = " ".join(line.strip() for line in result.stderr.strip().splitlines() if line.strip())
        raise ConfigError("spec.values", f"{chart}-{version}", f"helm template refuses the release: {problem}",
                          "change the values (or the pin) so `helm template` renders it; the chart's "
                          "values.yaml and values.schema.json say what it takes", source=source)
    objects = _flattened(doc for doc in yaml.load_all(result.stdout, Loader=_LOADER) if isinstance(doc, dict))
    separate = charts.SEPARATE_CRDS.get((chart, version))
    if separate is not None:
        crds_file, switch = separate
        if json.loads(values_json).get(switch, True):  # the chart's default is on
            objects += [doc for doc in yaml.load_all((directory / crds_file).read_text(), Loader=_LOADER)
                        if isinstance(doc, dict)]
    warnings = tuple(line.strip() for line in result.stderr.splitlines() if line.strip())
    return Rendered(tuple(objects), warnings)


def _flattened(documents) -> list[dict]:
    """Helm's kube client flattens a ``v1/List`` into its items before applying them."""
    flat: list[dict] = []
    for document in documents:
        if document.get("kind") == "List" and document.get("apiVersion") == "v1":
            flat += [item for item in document.get("items") or () if isinstance(item, dict)]
        else:
            flat.append(document)
    return flat


def warning_message(line: str) -> str:
    """The message of one stderr line: Helm v4 logs warnings as ``level=... msg="..."``."""
    match = re.search(r'msg="(.*)"$', line)
    return (match.group(1) if match else line).removeprefix("warning: ")


def unexplained_warnings(chart: str, version: str, rendered: Rendered,
                         accepted: dict[str, str] = ACCEPTED_WARNINGS) -> list[str]:
    keys = [key.removeprefix(f"{chart}-{version}: ") for key in accepted if key.startswith(f"{chart}-{version}: ")]
    return [line for line in rendered.warnings if not any(warning_message(line).startswith(key) for key in keys)]
