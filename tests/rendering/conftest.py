"""Every cluster of every environment rendered once per session (vault_platform/rendering)."""

from __future__ import annotations

import pytest

from vault_platform.config.load import environment_names, load_environment
from vault_platform.rendering.platform_values import clusters
from vault_platform.rendering.releases import ClusterRender, render_cluster

# (environment, cluster key) of every cluster we ship, known at collection for parametrize.
CLUSTERS = tuple((name, cluster.key) for name in environment_names() for cluster in clusters(load_environment(name)))
CLUSTER_IDS = [f"{env}-{key}" for env, key in CLUSTERS]


@pytest.fixture(scope="session")
def cluster_render():
    """(environment, cluster key) -> its ClusterRender, each rendered on first use only."""
    cache: dict[tuple[str, str], ClusterRender] = {}

    def get(environment: str, key: str) -> ClusterRender:
        if (environment, key) not in cache:
            env = load_environment(environment)
            cluster = next(c for c in clusters(env) if c.key == key)
            cache[(environment, key)] = render_cluster(env, cluster)
        return cache[(environment, key)]

    return get
