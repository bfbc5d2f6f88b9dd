"""Which ``${VAR}`` a cluster's Flux tree asks Flux to substitute, found without a cluster.

Flux's ``postBuild`` substitution replaces ``${VAR}`` in what a Kustomization builds. For a
cluster that is its entry directory (``flux/clusters/<cluster>``) and everything reachable
from it: the resources, components, patches and generator files of each
``kustomization.yaml``, and the ``spec.path`` of every Flux Kustomization found on the way.
The platform stack compares the result with the keys it writes into ``platform-vars`` and
stops the synth on a variable it cannot fill, instead of Flux failing on the cluster.

Deliberately plain: no kustomize binary, PyYAML only. Variables with a default
(``${VAR:=x}``, ``${VAR:-x}``), escaped ones (``$${VAR}``), keys given inline in a
Kustomization's ``postBuild.substitute``, and objects annotated
``kustomize.toolkit.fluxcd.io/substitute: disabled`` are not required.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# ${NAME}, ${NAME:=default}, ${NAME:-default}, not $${NAME} (Flux's escape).
_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[=-][^}]*)?\}")
_KUSTOMIZE_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_FLUX_KUSTOMIZATION_API = "kustomize.toolkit.fluxcd.io/"
_SUBSTITUTE_ANNOTATION = "kustomize.toolkit.fluxcd.io/substitute"


def variable_names(text: str) -> set[str]:
    """Every variable ``text`` asks Flux to substitute, with a default or without (escaped
    ``$${NAME}`` excepted): what a manifest may use only if its cluster's contract lists it."""
    return {match.group(1) for match in _VARIABLE.finditer(text)}


def substitute(text: str, values: dict[str, str]) -> str:
    """``text`` with each ``${NAME}`` replaced as Flux's postBuild does: ``${NAME:=x}`` and
    ``${NAME:-x}`` give x when NAME is unset or empty, ``${NAME=x}`` / ``${NAME-x}`` when
    unset; ``$${NAME}`` stays (the escape). A NAME without a value or default: KeyError."""
    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = values.get(name)
        if default is not None and (value is None or (default.startswith(":") and value == "")):
            return default.lstrip(":")[1:]
        if value is None:
            raise KeyError(name)
        return value
    return _VARIABLE.sub(one, text)


@dataclass
class SubstitutionScan:
    """variables: name -> files (relative to the repository root) that use it without a default."""

    variables: dict[str, set[str]] = field(default_factory=dict)
    inline: set[str] = field(default_factory=set)  # keys set by postBuild.substitute
    visited: set[Path] = field(default_factory=set)

    def required(self) -> dict[str, list[str]]:
        return {name: sorted(files) for name, files in sorted(self.variables.items()) if name not in self.inline}


@functools.lru_cache(maxsize=None)
def required_variables(repo_root: Path, entry: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``scan_cluster(...).required()`` as an immutable value, computed once per process.

    Every environment's platform stacks check the same flux/ tree; with ``--all-envs`` the
    scan would otherwise be repeated for each environment and cluster. The tree does not
    change during a synth.
    """
    return tuple((name, tuple(files)) for name, files in scan_cluster(repo_root, entry).required().items())


def scan_cluster(repo_root: Path, entry: str) -> SubstitutionScan:
    """Scan ``entry`` (a repository path like ./flux/clusters/tooling) and all it references.

    A missing entry directory yields an empty scan: the tree may not exist yet.
    """
    scan = SubstitutionScan()
    root = repo_root.resolve()
    start = (root / entry).resolve()
    if start.is_dir():
        _visit_directory(root, start, scan)
    return scan


def _visit_directory(root: Path, directory: Path, scan: SubstitutionScan) -> None:
    if directory in scan.visited or not _inside(root, directory):
        return
    scan.visited.add(directory)
    kustomize_file = next((directory / name for name in _KUSTOMIZE_FILES if (directory / name).is_file()), None)
    if kustomize_file is None:
        # Flux generates a kustomization of every manifest below a directory without one.
        for path in sorted(directory.rglob("*")):
            if path.suffix in (".yaml", ".yml") and path.is_file():
                _visit_file(root, path, scan)
        return
    _visit_file(root, kustomize_file, scan)
    for document in _documents(kustomize_file):
        for reference in _kustomize_references(document):
            if "://" in reference or reference.startswith(("github.com/", "git@")):
                continue  # remote bases are not part of this repository
            target = (directory / reference).resolve()
            if target.is_dir():
                _visit_directory(root, target, scan)
            elif target.is_file():
                _visit_file(root, target, scan)


def _kustomize_references(document: object) -> Iterator[str]:
    if not isinstance(document, dict):
        return
    for key in ("resources", "bases", "components", "patchesStrategicMerge", "crds"):
        for item in document.get(key) or ():
            if isinstance(item, str):
                yield item
    for patch in document.get("patches") or ():
        if isinstance(patch, dict) and isinstance(patch.get("path"), str):
            yield patch["path"]
    for key in ("configMapGenerator", "secretGenerator"):
        for generator in document.get(key) or ():
            if not isinstance(generator, dict):
                continue
            for item in [*(generator.get("files") or ()), *(generator.get("envs") or ())]:
                if isinstance(item, str):
                    yield item.split("=", 1)[-1]  # "key=path" names the key, then the file


def _visit_file(root: Path, path: Path, scan: SubstitutionScan) -> None:
    if path in scan.visited or not _inside(root, path):
        return
    scan.visited.add(path)
    relative = path.relative_to(root).as_posix()
    if path.suffix not in (".yaml", ".yml") and path.name != "Kustomization":
        _record(_VARIABLE.finditer(path.read_text(encoding="utf-8", errors="replace")), relative, scan)
        return
    try:
        documents = list(_documents(path))
    except yaml.YAMLError:
        # Not parseable as YAML (a template?): every ${...} in its text counts.
        _record(_VARIABLE.finditer(path.read_text(encoding="utf-8", errors="replace")), relative, scan)
        return
    for document in documents:
        if not isinstance(document, dict):
            continue
        annotations = (document.get("metadata") or {}).get("annotations") or {}
        if annotations.get(_SUBSTITUTE_ANNOTATION) == "disabled":
            continue
        _record(_strings_in(document), relative, scan)
        if str(document.get("apiVersion", "")).startswith(_FLUX_KUSTOMIZATION_API) and document.get("kind") == "Kustomization":
            spec = document.get("spec") or {}
            scan.inline.update((spec.get("postBuild") or {}).get("substitute") or {})
            if isinstance(spec.get("path"), str):
                _visit_directory(root, (root / spec["path"]).resolve(), scan)


def _record(matches: Iterator[re.Match[str]] | Iterator[str], relative: str, scan: SubstitutionScan) -> None:
    for item in matches:
        found = [item] if isinstance(item, re.Match) else _VARIABLE.finditer(item)
        for match in found:
            if match.group(2) is None:  # a default makes the key optional
                scan.variables.setdefault(match.group(1), set()).add(relative)


def _strings_in(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings_in(key)
            yield from _strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_in(item)


def _documents(path: Path) -> Iterator[object]:
    with path.open(encoding="utf-8") as handle:
        # libyaml's C loader when PyYAML was built with it (the wheels are): the same safe
        # loading, several times faster, and every synth of a platform stack reads flux/.
        yield from yaml.load_all(handle, Loader=_SAFE_LOADER)


def _inside(root: Path, path: Path) -> bool:
    return path == root or root in path.parents
