"""Compose an environment's stacks into one cdktf App and synthesize it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cdktf import App

from vault_platform.config.load import DEFAULT_ENVIRONMENT
from vault_platform.config.model import EnvironmentConfig
from vault_platform.constructs.protection import ALLOW_DESTROY_CONTEXT
from vault_platform.stacks.application import ApplicationStack
from vault_platform.stacks.platform import ClusterPlatformStack
from vault_platform.stacks.tooling import ToolingStack
from vault_platform.stacks.vpn import VpnStack

TOOLING = "tooling"
APPLICATION = "application"
TOOLING_PLATFORM = "tooling-platform"
APPLICATION_PLATFORM = "application-platform"
VPN = "vpn"
# Deploy order: each stack reads only stacks before it.
STACK_ORDER = (TOOLING, APPLICATION, TOOLING_PLATFORM, APPLICATION_PLATFORM, VPN)


def stack_id(environment_file: str, stack: str) -> str:
    """The default environment keeps the plain names (`cdktf deploy tooling`); any other
    environment's stacks are namespaced by its file name, so environments never collide."""
    return stack if environment_file == DEFAULT_ENVIRONMENT else f"{environment_file}-{stack}"


@dataclass(frozen=True)
class SynthesizedStack:
    stack_id: str
    path: Path  # the stack's cdk.tf.json


def build_app(env: EnvironmentConfig, environment_file: str, outdir: str, *, allow_destroy: bool = False) -> App:
    """allow_destroy lifts prevent_destroy and deletion protection (constructs/protection.py):
    only for a deliberate teardown, never for a normal deploy."""
    app = App(outdir=outdir, context={ALLOW_DESTROY_CONTEXT: True} if allow_destroy else None)
    tooling = ToolingStack(app, stack_id(environment_file, TOOLING), env)
    application = ApplicationStack(app, stack_id(environment_file, APPLICATION), env, tooling=tooling)
    # One platform stack per cluster; each reads both AWS stacks (tooling's platform-vars
    # carry the application cluster's endpoint and database), so both come after them, and
    # the application one reads Vault's CA from the tooling one.
    tooling_platform = ClusterPlatformStack(app, stack_id(environment_file, TOOLING_PLATFORM), env,
                                            cluster=env.tooling.cluster.name, tooling=tooling, application=application)
    ClusterPlatformStack(app, stack_id(environment_file, APPLICATION_PLATFORM), env, cluster=env.application.cluster.name,
                         tooling=tooling, application=application, vault_ca=tooling_platform.vault_ca)
    VpnStack(app, stack_id(environment_file, VPN), env, tooling=tooling, application=application)
    return app


def synthesize(env: EnvironmentConfig, environment_file: str, outdir: str, *,
               allow_destroy: bool = False) -> list[SynthesizedStack]:
    build_app(env, environment_file, outdir, allow_destroy=allow_destroy).synth()
    return [
        SynthesizedStack(sid, Path(outdir) / "stacks" / sid / "cdk.tf.json")
        for sid in (stack_id(environment_file, name) for name in STACK_ORDER)
    ]
