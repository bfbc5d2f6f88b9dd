"""The Terraform side of the platform-vars contract, checked before a platform stack exists.

``configmap_data`` holds the values a platform stack gives against the keys
platform_vars.py lists for the cluster (both ways, features switched off considered), and
``check_flux_variables`` holds the keys against the ``${VAR}`` the cluster's Flux tree
substitutes (gitops/substitution.py). Both raise a ConfigError naming the file to change.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from vault_platform.addons import feature_on
from vault_platform.config.model import EnvironmentConfig
from vault_platform.errors import ConfigError
from vault_platform.gitops import platform_vars
from vault_platform.gitops.substitution import required_variables


@dataclass(frozen=True)
class Unavailable:
    """A platform var the environment cannot fill, and the config field that decides it."""

    field: str
    value: object


def cluster_role(env: EnvironmentConfig, cluster: str) -> str:
    """The role (platform_vars.TOOLING / APPLICATION) of the cluster the environment names ``cluster``."""
    roles = {env.tooling.cluster.name: platform_vars.TOOLING,
             **{app.cluster.name: platform_vars.APPLICATION for app in env.application_clusters}}
    if cluster not in roles:
        raise ConfigError("cluster", cluster, f"is not a cluster of environment '{env.name}' ({env.source or 'in memory'})",
                          f"use one of: {', '.join(roles)}")
    return roles[cluster]


def features_off(env: EnvironmentConfig) -> frozenset[str]:
    """The feature switches of platform_vars.py (dotted config fields) this environment turns off."""
    switches = {var.feature for var in platform_vars.PLATFORM_VARS if var.feature is not None}
    return frozenset(switch for switch in switches if not feature_on(env, switch))


def configmap_data(role: str, values: Mapping[str, object], off: Collection[str] = ()) -> dict[str, str]:
    """Exactly the keys platform_vars.py lists for the cluster, less those of the feature
    switches in ``off`` (``features_off``), each with a value."""
    expected = platform_vars.keys_for(role, off)
    for key in expected:
        value = values.get(key)
        if isinstance(value, Unavailable):
            raise ConfigError(
                value.field, value.value, f"leaves {key} of the {role} cluster's platform-vars without a value",
                f"enable it, or drop {key} from the {role} keys in vault_platform/gitops/platform_vars.py (and from flux/)",
            )
        if value is None or value == "":
            raise ConfigError(
                f"platform-vars.{key}", value,
                f"vault_platform/gitops/platform_vars.py lists {key} for the {role} cluster but the platform stack gives it no value",
                "add its value to platform_values() in vault_platform/stacks/platform.py",
            )
    optional = platform_vars.optional_keys_for(role)
    for key in values:
        if key in optional and optional[key] in off:
            raise ConfigError(
                optional[key], False, f"turns {key} off for the {role} cluster but platform_values() still gives it a value",
                "give the value only when the feature is on (vault_platform/stacks/platform.py)",
            )
        if key not in expected:
            raise ConfigError(
                f"platform-vars.{key}", "<a value>",
                f"has a value in platform_values() but vault_platform/gitops/platform_vars.py does not list it for the {role} cluster",
                f"list {key} for {role} in platform_vars.py with a description, or remove the value",
            )
    return {key: values[key] for key in expected}  # type: ignore[misc] - checked above


def check_flux_variables(role: str, keys: tuple[str, ...] | list[str], env: EnvironmentConfig, repo_root: Path) -> None:
    """Every ${VAR} the cluster's Flux tree needs is a key of its platform-vars, and none is
    a key that only some environments have (whatever this environment's switches)."""
    entry = f"{env.gitops.path}/{role}"
    required = dict(required_variables(repo_root, entry))
    optional = platform_vars.optional_keys_for(role)
    for name, files in required.items():
        if name in optional:
            raise ConfigError(
                f"${{{name}}}", files[0],
                f"is substituted without a default by the {role} cluster's Flux tree ({entry}) but "
                f"{platform_vars.CONFIGMAP_NAME} has {name} only where {optional[name]} is on",
                f"write ${{{name}:=<default>}} in flux/, or make {name} a key of every environment in "
                "vault_platform/gitops/platform_vars.py",
            )
    unknown = [name for name in required if name not in keys]
    if unknown:
        name = unknown[0]
        more = f" (and {', '.join(unknown[1:])})" if unknown[1:] else ""
        raise ConfigError(
            f"${{{name}}}", required[name][0],
            f"is substituted by the {role} cluster's Flux tree ({entry}) but ConfigMap "
            f"{platform_vars.CONFIGMAP_NAMESPACE}/{platform_vars.CONFIGMAP_NAME} has no key {name}{more}",
            f"list {name} for {role} in vault_platform/gitops/platform_vars.py and give it a value in "
            f"vault_platform/stacks/platform.py, or write ${{{name}:=default}} in flux/",
        )
