"""Environment configuration: frozen dataclasses, loaded strictly from one TOML file.

Each name below is imported from its module when first used (a module ``__getattr__``,
PEP 562), so ``from vault_platform.config import environment_names`` costs only the names
module: an unchanged synth (main.py with the synth cache hit) needs no more, and importing
the loader with its dataclasses and validation was a third of that command's time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_MODULE_OF = {
    "DEFAULT_ENVIRONMENT": "names",
    "environment_names": "names",
    "load_environment": "load",
    "parse_environment": "load",
    "ApplicationConfig": "model",
    "ClusterConfig": "model",
    "DatabaseConfig": "model",
    "EnvironmentConfig": "model",
    "NetworkConfig": "model",
    "NodeGroupConfig": "model",
    "ToolingConfig": "model",
    "VpnConfig": "model",
}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:  # noqa: ANN401 - whatever the named module holds
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
    globals()[name] = value  # the next lookup is a plain one
    return value


if TYPE_CHECKING:
    from vault_platform.config.load import load_environment, parse_environment
    from vault_platform.config.model import (
        ApplicationConfig,
        ClusterConfig,
        DatabaseConfig,
        EnvironmentConfig,
        NetworkConfig,
        NodeGroupConfig,
        ToolingConfig,
        VpnConfig,
    )
    from vault_platform.config.names import DEFAULT_ENVIRONMENT, environment_names
