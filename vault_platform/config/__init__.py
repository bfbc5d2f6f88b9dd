"""Environment configuration: frozen dataclasses, loaded strictly from one TOML file."""

from vault_platform.config.load import DEFAULT_ENVIRONMENT, environment_names, load_environment, parse_environment
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

__all__ = [
    "DEFAULT_ENVIRONMENT",
    "ApplicationConfig",
    "ClusterConfig",
    "DatabaseConfig",
    "EnvironmentConfig",
    "NetworkConfig",
    "NodeGroupConfig",
    "ToolingConfig",
    "VpnConfig",
    "environment_names",
    "load_environment",
    "parse_environment",
]
