"""Compose environments' stacks into one cdktf App and synthesize it."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cdktf import App

from vault_platform.config.load import DEFAULT_ENVIRONMENT
from vault_platform.config.model import DEPLOY_VIA_VPN, EnvironmentConfig
from vault_platform.constructs.protection import ALLOW_DESTROY_CONTEXT
from vault_platform.gitops.scheduling import check_schedulable
from vault_platform.errors import ConfigError
from vault_platform.federated_trust import stack_trust_problems
from vault_platform.outdir import atomic_outdir
from vault_platform.stacks.application import ApplicationStack
from vault_platform.stacks.platform import ClusterPlatformStack
from vault_platform.stacks.tooling import ToolingStack
from vault_platform.stacks.vpn import VpnStack

TOOLING = "tooling"
# The default environment's one application cluster: its stacks are "application" and
# "application-platform" because that is its name (an application cluster's stacks are
# "<name>" and "<name>-platform").
APPLICATION = "application"
PLATFORM_SUFFIX = "-platform"
TOOLING_PLATFORM = TOOLING + PLATFORM_SUFFIX
APPLICATION_PLATFORM = APPLICATION + PLATFORM_SUFFIX
VPN = "vpn"


@dataclass(frozen=True)
class ClusterStacks:
    """One cluster of an environment and the ids of its two stacks.

    key: what names the cluster in stack ids, flow places ("<key>.pods") and flow names:
    "tooling" for the tooling cluster, the short cluster name for an application cluster
    (the default environment's is "application"). role: platform_vars.TOOLING or APPLICATION.
    """

    key: str
    role: str
    cluster_name: str  # the short name from the environment file
    aws: str  # stack id of its AWS stack
    platform: str  # stack id of its platform stack


def cluster_stacks(env: EnvironmentConfig, environment_file: str) -> tuple[ClusterStacks, ...]:
    """Every cluster of the environment, tooling first, then the application clusters in
    file order."""
    return (
        ClusterStacks(TOOLING, TOOLING, env.tooling.cluster.name,
                      stack_id(environment_file, TOOLING), stack_id(environment_file, TOOLING_PLATFORM)),
        *(ClusterStacks(name, APPLICATION, name, stack_id(environment_file, name),
                        stack_id(environment_file, name + PLATFORM_SUFFIX))
          for name in (app.cluster.name for app in env.application_clusters)),
    )


def stack_order(env: EnvironmentConfig, environment_file: str) -> tuple[str, ...]:
    """The environment's stack ids in deploy order: each stack reads only stacks before it.
    tooling, each application cluster, vpn, tooling-platform, each application platform. The
    vpn stack comes before the platform stacks: with deploy.access = "vpn" (the default)
    their providers reach the private EKS APIs through it, so they depend on it
    (tests/test_flows.py proves the order from the flow contract)."""
    tooling, *applications = cluster_stacks(env, environment_file)
    return (tooling.aws, *(c.aws for c in applications), stack_id(environment_file, VPN),
            tooling.platform, *(c.platform for c in applications))


# Synthesized only on request (--bootstrap), before everything else: it creates the S3
# bucket and KMS key the environment's [state] names, and keeps its own state locally.
STATE_BOOTSTRAP = "state-bootstrap"


def stack_id(environment_file: str, stack: str) -> str:
    """The default environment keeps the plain names (`cdktf deploy tooling`); any other
    environment's stacks are namespaced by its file name, so environments never collide."""
    return stack if environment_file == DEFAULT_ENVIRONMENT else f"{environment_file}-{stack}"


@dataclass(frozen=True)
class SynthesizedStack:
    stack_id: str
    path: Path  # the stack's cdk.tf.json


def new_app(outdir: str, *, allow_destroy: bool = False) -> App:
    """allow_destroy lifts prevent_destroy and deletion protection (constructs/protection.py):
    only for a deliberate teardown, never for a normal deploy."""
    return App(outdir=outdir, context={ALLOW_DESTROY_CONTEXT: True} if allow_destroy else None)


def add_environment(app: App, env: EnvironmentConfig, environment_file: str, *, bootstrap: bool = False) -> list[str]:
    """The environment's stacks in deploy order; returns their ids."""
    # Before any stack: nodes at minimum size that cannot run the rendered workloads refuse the environment.
    check_schedulable(env)
    ids = []
    if bootstrap:
        from vault_platform.stacks.state_bootstrap import StateBootstrapStack

        ids.append(StateBootstrapStack(app, stack_id(environment_file, STATE_BOOTSTRAP), env).node.id)
    tooling_ids, *application_ids = cluster_stacks(env, environment_file)
    tooling = ToolingStack(app, tooling_ids.aws, env)
    applications = tuple(ApplicationStack(app, ids.aws, env, config=config, tooling=tooling)
                         for ids, config in zip(application_ids, env.application_clusters))
    vpn = VpnStack(app, stack_id(environment_file, VPN), env, tooling=tooling, applications=applications)
    # One platform stack per cluster; each reads the AWS stacks (tooling's platform-vars
    # carry every application cluster's endpoint, every one's the database), so all come
    # after them, and each application one reads Vault's CA from the tooling one.
    tooling_platform = ClusterPlatformStack(app, tooling_ids.platform, env, cluster=env.tooling.cluster.name,
                                            tooling=tooling, applications=applications)
    platforms = [tooling_platform, *(
        ClusterPlatformStack(app, ids.platform, env, cluster=ids.cluster_name, tooling=tooling,
                             applications=applications, vault_ca=tooling_platform.vault_ca)
        for ids in application_ids)]
    if env.deploy.access == DEPLOY_VIA_VPN:
        # Their providers call the private EKS APIs over the VPN: no reference says so.
        for platform in platforms:
            platform.add_dependency(vpn)
    return ids + list(stack_order(env, environment_file))


def build_app(env: EnvironmentConfig, environment_file: str, outdir: str, *, allow_destroy: bool = False,
              bootstrap: bool = False) -> App:
    app = new_app(outdir, allow_destroy=allow_destroy)
    add_environment(app, env, environment_file, bootstrap=bootstrap)
    return app


def synthesize(env: EnvironmentConfig, environment_file: str, outdir: str, *,
               allow_destroy: bool = False, bootstrap: bool = False) -> list[SynthesizedStack]:
    return synthesize_environments([(environment_file, env)], outdir, allow_destroy=allow_destroy, bootstrap=bootstrap)


def synthesize_environments(environments: Sequence[tuple[str, EnvironmentConfig]], outdir: str, *,
                            allow_destroy: bool = False, bootstrap: bool = False,
                            before_swap: Callable[[Path, list[SynthesizedStack]], None] | None = None) -> list[SynthesizedStack]:
    """Every (file name, config) pair's stacks in one App, written to outdir all at once:
    a synth that fails on the way leaves the previous outdir as it was (outdir.py).
    ``before_swap`` may add files to the finished output (the synth cache's stamp), so that
    they replace the old output together with it."""
    with atomic_outdir(outdir) as staging:
        app = new_app(str(staging), allow_destroy=allow_destroy)
        # With several environments, only those with a [state] table have a bucket to bootstrap.
        ids_by_environment = [(env, add_environment(app, env, environment_file,
                                                    bootstrap=bootstrap and (len(environments) == 1 or env.state is not None)))
                              for environment_file, env in environments]
        ids = [sid for _, env_ids in ids_by_environment for sid in env_ids]
        app.synth()
        for env, env_ids in ids_by_environment:
            check_federated_trust(env, {sid: json.loads((staging / "stacks" / sid / "cdk.tf.json").read_text()) for sid in env_ids})
        stacks = [SynthesizedStack(sid, Path(outdir) / "stacks" / sid / "cdk.tf.json") for sid in ids]
        if before_swap is not None:
            before_swap(staging, stacks)
    return stacks


def check_federated_trust(env: EnvironmentConfig, stacks: dict[str, dict]) -> None:
    """Refuse an environment whose synthesized IAM trusts an external identity its file did
    not name (federated_trust.py): checked on the output, so no construct can slip one past."""
    problems = stack_trust_problems(env, stacks)
    if problems:
        problem, _, fix = problems[0].partition("; fix: ")
        more = f" (and {len(problems) - 1} more trust(s) like it)" if len(problems) > 1 else ""
        raise ConfigError("ci", env.ci.gitlab_url if env.ci else "<no [ci] table>", problem + more, fix, source=env.source)
