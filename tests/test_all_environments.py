"""Every environment under environments/, synthesized together as `python main.py --all-envs`
does: stack ids never collide, the default environment's output is unchanged by the others,
and the safety properties of tests/test_safety.py hold for every stack of every environment.
Remote state (S3, lockfile, KMS) and the assume-role into another account are checked on
the environments that set them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.synth import StackJson
from tests.test_safety import AWS_ACCESS_KEY, PEM, literal_secrets
from vault_platform.app import STATE_BOOTSTRAP, stack_id, stack_order
from vault_platform.config import environment_names, load_environment
from vault_platform.config.model import EnvironmentConfig
from vault_platform.constructs.protection import STATEFUL_RESOURCE_TYPES
from vault_platform.state_backend import state_path

ENVIRONMENTS = environment_names()


@pytest.fixture(scope="module")
def configs() -> dict[str, EnvironmentConfig]:
    return {name: load_environment(name) for name in ENVIRONMENTS}


@pytest.fixture(scope="module")
def all_stacks(all_environment_stacks: dict[str, StackJson]) -> dict[str, StackJson]:
    return all_environment_stacks  # synthesized once per session (tests/conftest.py)


def ids_of(environment: str) -> tuple[str, ...]:
    return stack_order(load_environment(environment), environment)


def stacks_of(all_stacks: dict[str, StackJson], environment: str) -> list[StackJson]:
    return [all_stacks[sid] for sid in ids_of(environment)]


def test_environments_span_regions_and_accounts(configs: dict[str, EnvironmentConfig]) -> None:
    assert {"default", "staging", "production"} <= set(configs)
    assert len({env.region for env in configs.values()}) >= 2, "the examples should show another region"
    assert len({env.account_id for env in configs.values() if env.account_id}) >= 2, "and another account"
    assert any(env.assume_role_arn for env in configs.values()), "reached by assume-role"
    assert len({env.name for env in configs.values()}) == len(configs), "two environments with one name would share AWS names"


def test_one_output_holds_every_environment_with_namespaced_ids(all_stacks: dict[str, StackJson],
                                                               all_environment_output: dict[str, StackJson]) -> None:
    every = [sid for environment in ENVIRONMENTS for sid in ids_of(environment)]
    expected = set(every)
    assert set(all_stacks) == expected and len(expected) == len(every)
    assert {"tooling", "application", "vpn", "tooling-platform", "application-platform"} <= set(all_stacks), \
        "the default environment keeps the plain stack ids"
    # The session's output was synthesized with --bootstrap: one state-bootstrap stack for each
    # environment with a [state] table, namespaced like the rest.
    bootstrap = {stack_id(environment, STATE_BOOTSTRAP) for environment in ENVIRONMENTS
                 if load_environment(environment).state is not None}
    manifest = json.loads((next(iter(all_stacks.values())).path.parents[2] / "manifest.json").read_text())
    assert set(manifest["stacks"]) == set(all_environment_output) == expected | bootstrap


def test_default_environment_is_byte_identical_alone_and_with_the_others(
        all_stacks: dict[str, StackJson], default_stacks: dict[str, StackJson]) -> None:
    for name, alone in default_stacks.items():
        assert all_stacks[name].path.read_bytes() == alone.path.read_bytes(), name


def test_stacks_of_an_environment_reference_only_that_environment(all_stacks: dict[str, StackJson]) -> None:
    for environment in ENVIRONMENTS:
        own = set(ids_of(environment))
        for stack in stacks_of(all_stacks, environment):
            for name in stack.data.get("data", {}).get("terraform_remote_state", {}):
                producer = name.removeprefix("cross-stack-reference-input-")
                assert producer in own, f"{stack.stack_id} reads {producer}"


def test_every_stateful_resource_of_every_environment_is_protected(all_stacks: dict[str, StackJson]) -> None:
    for stack in all_stacks.values():
        for resource_type in STATEFUL_RESOURCE_TYPES:
            for name, resource in stack.resources(resource_type).items():
                assert resource.get("lifecycle", {}).get("prevent_destroy") is True, \
                    f"{stack.stack_id}: {resource_type}.{name} can be destroyed by a plan"
        for name, db in stack.resources("aws_db_instance").items():
            assert db["deletion_protection"] is True and db["skip_final_snapshot"] is False, f"{stack.stack_id} {name}"


def test_no_secret_in_any_stack_of_any_environment(all_stacks: dict[str, StackJson]) -> None:
    for stack in all_stacks.values():
        text = stack.path.read_text()
        assert not PEM.search(text) and not AWS_ACCESS_KEY.search(text), stack.stack_id
        for section in ("resource", "provider", "variable", "locals", "terraform"):
            assert not literal_secrets(stack.data.get(section, {})), f"{stack.stack_id} {section}"
        for name, output in stack.outputs().items():
            value = str(output.get("value", ""))
            if "private_key" in value or "private_key" in name or "password" in name or "token" in name:
                assert output.get("sensitive") is True, f"{stack.stack_id} output {name}"


def test_environments_without_state_table_keep_relative_local_state(
        all_stacks: dict[str, StackJson], configs: dict[str, EnvironmentConfig]) -> None:
    local = [name for name, env in configs.items() if env.state is None]
    assert "default" in local
    for environment in local:
        for stack in stacks_of(all_stacks, environment):
            assert stack.data["terraform"]["backend"] == {"local": {"path": state_path(stack.stack_id)}}


def test_remote_state_is_one_locked_encrypted_object_per_stack(
        all_stacks: dict[str, StackJson], configs: dict[str, EnvironmentConfig]) -> None:
    remote = {name: env for name, env in configs.items() if env.state is not None}
    assert {"staging", "production"} <= set(remote)
    keys = []
    for environment, env in remote.items():
        for stack in stacks_of(all_stacks, environment):
            backend = stack.data["terraform"]["backend"]
            assert list(backend) == ["s3"], f"{stack.stack_id} is not on the S3 backend"
            s3 = backend["s3"]
            assert s3["bucket"] == env.state.bucket and s3["region"] == env.state.region
            assert s3["key"] == f"{env.name}/{stack.stack_id}.tfstate"
            assert s3["use_lockfile"] is True, "Terraform's native S3 lock"
            assert s3["encrypt"] is True and s3["kms_key_id"] == env.state.kms_key_arn
            assert "dynamodb_table" not in s3
            keys.append((s3["bucket"], s3["key"]))
    assert len(keys) == len(set(keys)), "two stacks would write one state object"


def test_cross_stack_references_read_the_producers_s3_state(
        all_stacks: dict[str, StackJson], configs: dict[str, EnvironmentConfig]) -> None:
    """cdktf writes terraform_remote_state with the producing stack's own backend config."""
    checked = 0
    for environment in ENVIRONMENTS:
        for stack in stacks_of(all_stacks, environment):
            for name, remote in stack.data.get("data", {}).get("terraform_remote_state", {}).items():
                producer = all_stacks[name.removeprefix("cross-stack-reference-input-")]
                (kind, config), = producer.data["terraform"]["backend"].items()
                assert remote["backend"] == kind
                # Reading needs no lock: everything of the producer's backend but use_lockfile.
                assert remote["config"] == {k: v for k, v in config.items() if k != "use_lockfile"}, stack.stack_id
                checked += kind == "s3"
    assert checked >= 2 * len(ids_of("default")), "the remote-state environments' references were not seen"


def test_assume_role_reaches_the_other_account_everywhere_credentials_are_used(
        all_stacks: dict[str, StackJson], configs: dict[str, EnvironmentConfig]) -> None:
    for environment, env in configs.items():
        for stack in stacks_of(all_stacks, environment):
            providers = stack.data.get("provider", {}).get("aws", [])
            for provider in providers:
                if env.assume_role_arn:
                    assert provider["assume_role"] == [{"role_arn": env.assume_role_arn, "session_name": f"vault-platform-{env.name}"}]
                    assert provider["allowed_account_ids"] == [env.account_id]
                else:
                    assert "assume_role" not in provider, stack.stack_id
            backend = stack.data["terraform"]["backend"]
            if "s3" in backend:
                assert backend["s3"].get("assume_role", {}).get("role_arn") == env.assume_role_arn
            kubernetes = stack.data.get("provider", {}).get("kubernetes", [])
            for provider in kubernetes:
                args = provider["exec"][0]["args"]
                assert ("--role-arn" in args) == bool(env.assume_role_arn), stack.stack_id
                if env.assume_role_arn:
                    assert args[args.index("--role-arn") + 1] == env.assume_role_arn


def test_other_region_is_used_for_zones_and_provider(all_stacks: dict[str, StackJson]) -> None:
    staging = all_stacks[stack_id("staging", "tooling")]
    assert staging.data["provider"]["aws"][0]["region"] == "eu-central-1"
    # Zones are AWS's, read at plan time in the stack's own region: the first three by position.
    assert staging.data["data"]["aws_availability_zones"]["zones"]["state"] == "available"
    assert sorted(s["availability_zone"] for s in staging.resources("aws_subnet").values()) == sorted(
        f"${{element(data.aws_availability_zones.zones.names, {i})}}" for i in range(3) for _ in range(2))


def test_main_all_envs_cannot_be_combined_with_env(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import main

    assert main.main(["--all-envs", "--env", "staging", "--outdir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: --env = 'staging': cannot be combined with --all-envs")
    assert not (tmp_path / "out").exists()
