"""Read an environment file into ``EnvironmentConfig``, strictly.

Strict means: an unknown key is an error (a typo must not silently fall back to a
default), a value of the wrong type is an error, and a missing required field is an
error, each reported as one ``ConfigError`` line naming the dotted field, the value and
the fix. Semantic checks (CIDRs, versions, name lengths) follow in ``validate``.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import typing
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import tomllib

from vault_platform.config.model import EnvironmentConfig
from vault_platform.config.names import DEFAULT_ENVIRONMENT, ENVIRONMENTS_DIR, environment_names
from vault_platform.config.quotas import check_regional_quotas
from vault_platform.config.validate import validate_environment
from vault_platform.errors import ConfigError

__all__ = ["DEFAULT_ENVIRONMENT", "ENVIRONMENTS_DIR", "environment_names", "environment_path", "load_environment",
           "parse_environment"]

# Fields the loader fills in itself; a file may not set them.
_NOT_FROM_FILE = {"source"}


# An environment's file name becomes part of its stack ids and state keys: keep it a name,
# never a path.
_FILE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


def environment_path(name: str, directory: Path = ENVIRONMENTS_DIR) -> Path:
    if not _FILE_NAME.match(name):
        raise ConfigError("environment", name, "is not an environment name (lower-case a-z, 0-9 and '-', up to 31 characters, "
                          "no path)", f"pass the file name without directory or .toml, one of: {', '.join(environment_names(directory))}")
    path = directory / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(environment_names(directory)) or "none"
        raise ConfigError(
            "environment", name, f"no file environments/{name}.toml",
            f"pick one of: {known}, or create environments/{name}.toml",
        )
    return path


def load_environment(name: str = DEFAULT_ENVIRONMENT, directory: Path = ENVIRONMENTS_DIR) -> EnvironmentConfig:
    """Load and validate ``environments/<name>.toml``, and its regional quotas together with
    every other file of the same account and region."""
    environment = _load_one(name, directory)
    if environment.account_id is not None:
        neighbours = []
        for other in environment_names(directory):
            if other == name:
                continue
            try:
                neighbours.append((other, _load_one(other, directory)))
            except ConfigError:
                continue  # its own load reports it; an unreadable file shares nothing
        try:
            check_regional_quotas(environment, neighbours)
        except ConfigError as error:
            raise ConfigError(error.field, error.value, error.problem, error.fix, source=environment.source) from None
    return environment


def _load_one(name: str, directory: Path) -> EnvironmentConfig:
    path = environment_path(name, directory)
    source = f"environments/{path.name}"
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise ConfigError("file", source, f"is not UTF-8 text (byte 0x{raw[error.start]:02x} on line {line})",
                          "save the file as UTF-8 (TOML files are UTF-8)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError("file", source, f"is not valid TOML ({error})", "correct the TOML syntax at that line") from None
    return parse_environment(data, source=source)


# The one application cluster of files written before [[application_clusters]]: it loads
# as a one-element list, and errors name its fields as that file wrote them.
LEGACY_APPLICATION = "application"
APPLICATION_CLUSTERS = "application_clusters"
_LEGACY_PREFIX = f"{APPLICATION_CLUSTERS}[0]"


def parse_environment(data: Mapping[str, object], *, source: str = "<memory>") -> EnvironmentConfig:
    """Build and validate an environment from already-parsed data (a TOML table)."""
    legacy = LEGACY_APPLICATION in data
    try:
        environment = _build(EnvironmentConfig, _application_clusters(data), prefix="")
        environment = dataclasses.replace(environment, source=source)
        validate_environment(environment)
    except ConfigError as error:
        if error.source and not legacy:
            raise
        if legacy:
            error = _as_legacy(error)
        raise ConfigError(error.field, error.value, error.problem, error.fix, source=source) from None
    return environment


def _application_clusters(data: Mapping[str, object]) -> Mapping[str, object]:
    """The file's tables with a legacy [application] table turned into a one-element
    [[application_clusters]] list. Such a table without [application.database] keeps the
    database it always had: dropping it silently would destroy the RDS instance on apply."""
    if APPLICATION_CLUSTERS not in data and LEGACY_APPLICATION not in data:
        raise ConfigError(APPLICATION_CLUSTERS, "<missing>", "the environment has no application cluster",
                          "add a [[application_clusters]] table with network, cluster and (in one cluster) database")
    if LEGACY_APPLICATION not in data:
        return data
    if APPLICATION_CLUSTERS in data:
        raise ConfigError(LEGACY_APPLICATION, "<table>", f"is the legacy single-cluster form of {APPLICATION_CLUSTERS}, which the file also has",
                          f"move [{LEGACY_APPLICATION}...] into one more [[{APPLICATION_CLUSTERS}]] table, or remove it")
    legacy = data[LEGACY_APPLICATION]
    if isinstance(legacy, Mapping) and "database" not in legacy:
        legacy = {**legacy, "database": {}}
    return {**{key: value for key, value in data.items() if key != LEGACY_APPLICATION}, APPLICATION_CLUSTERS: [legacy]}


def _as_legacy(error: ConfigError) -> ConfigError:
    """An error about the one cluster, named as a legacy file wrote it ("application.network.cidr")."""
    def named(text: str) -> str:
        # A table header the file should have is named as that file writes it ([application.cluster]).
        return text.replace(_LEGACY_PREFIX, LEGACY_APPLICATION).replace(f"[{APPLICATION_CLUSTERS}.", f"[{LEGACY_APPLICATION}.")
    return ConfigError(named(error.field), error.value, named(error.problem), named(error.fix), source=error.source)


def _build(cls: type, data: object, prefix: str) -> object:
    if not isinstance(data, Mapping):
        raise ConfigError(prefix.rstrip(".") or "environment", data, "must be a table", f"write it as [{prefix.rstrip('.')}] with keys")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in _NOT_FROM_FILE}
    hints = typing.get_type_hints(cls)
    for key in data:
        if key not in fields:
            homes = _tables_with_key(EnvironmentConfig, key, "")
            # The nearest table first: the one sharing the most of this table's path.
            homes.sort(key=lambda home: -len(os.path.commonprefix([home.strip("[]"), prefix])))
            if homes:
                # The usual cause: a table header line above it is missing or misspelt, so TOML
                # put the key in the table before. "Remove it" would lose a setting.
                here = f"[{prefix.rstrip('.')}]" if prefix else "the top level"
                raise ConfigError(f"{prefix}{key}", data[key], f"is not a key of {here} but of {' or '.join(homes)}",
                                  f"put it under its table's header line ({homes[0]}): is that header missing or misspelt above it?")
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys here: {', '.join(sorted(fields))}"
            raise ConfigError(f"{prefix}{key}", data[key], "unknown key", f"remove it; {hint}")
    values = {}
    for name, spec in fields.items():
        dotted = f"{prefix}{name}"
        if name not in data:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise ConfigError(dotted, "<missing>", "required field is missing", f"add '{name} = ...' to the file")
            continue
        values[name] = _convert(hints[name], data[name], dotted)
    return cls(**values)


def _tables_with_key(cls: type, key: str, prefix: str) -> list[str]:
    """The tables nested in ``cls`` (as a file writes their headers) that have ``key``."""
    found = []
    hints = typing.get_type_hints(cls)
    for spec in dataclasses.fields(cls):
        inner = _table_type(hints[spec.name])
        if inner is None:
            continue
        table, is_array = inner
        dotted = f"{prefix}{spec.name}"
        if key in {f.name for f in dataclasses.fields(table)}:
            found.append(f"[[{dotted}]]" if is_array else f"[{dotted}]")
        found += _tables_with_key(table, key, f"{dotted}.")
    return found


def _table_type(hint: object) -> tuple[type, bool] | None:
    """The dataclass a field holds as a table (or an array of tables), else None."""
    if dataclasses.is_dataclass(hint):
        return hint, False  # type: ignore[return-value]
    args = [a for a in typing.get_args(hint) if a is not type(None) and a is not Ellipsis]
    if typing.get_origin(hint) is tuple and args and dataclasses.is_dataclass(args[0]):
        return args[0], True
    if len(args) == 1 and dataclasses.is_dataclass(args[0]):
        return args[0], False
    return None


def _convert(hint: object, value: object, dotted: str) -> object:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, prefix=f"{dotted}.")
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        inner = [a for a in args if a is not type(None)]
        return None if value is None else _convert(inner[0], value, dotted)
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(dotted, value, "must be a list", f"write it as {dotted.rsplit('.', 1)[-1]} = [ ... ]")
        return tuple(_convert(args[0], item, f"{dotted}[{index}]") for index, item in enumerate(value))
    if origin is Mapping or origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(dotted, value, "must be a table of strings", f"write it as [{dotted}] with key = \"value\" lines")
        for key, item in value.items():
            if not isinstance(item, str):
                raise ConfigError(f"{dotted}.{key}", item, "must be a string", "quote the value")
        return MappingProxyType(dict(value))
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(dotted, value, "must be true or false", "write true or false, unquoted")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(dotted, value, "must be a whole number", "write a number without quotes")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(dotted, value, "must be a string", "quote the value")
        return value
    raise TypeError(f"config loader has no rule for {hint!r} at {dotted}")  # a bug here, not bad input
