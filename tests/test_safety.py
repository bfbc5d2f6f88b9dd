"""Safety properties across every stack: stateful resources cannot be destroyed by a plan,
and no key, password or token is written into the synthesized JSON or a plain output."""

from __future__ import annotations

import re

import pytest

from tests.synth import StackJson
from vault_platform.constructs.protection import STATEFUL_RESOURCE_TYPES

PEM = re.compile(r"-----BEGIN [A-Z ]+-----")
AWS_ACCESS_KEY = re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")
SECRET_ATTRIBUTES = {"password", "master_password", "secret_string", "token", "private_key", "private_key_pem", "data_wo"}


def test_every_stateful_resource_is_protected(default_stacks: dict[str, StackJson]) -> None:
    seen = set()
    for stack in default_stacks.values():
        for resource_type in STATEFUL_RESOURCE_TYPES:
            for name, resource in stack.resources(resource_type).items():
                seen.add(resource_type)
                assert resource.get("lifecycle", {}).get("prevent_destroy") is True, \
                    f"{stack.stack_id}: {resource_type}.{name} can be destroyed by a plan"
        for name, db in stack.resources("aws_db_instance").items():
            assert db["deletion_protection"] is True and db["skip_final_snapshot"] is False, name
    # The list must keep matching what the stacks create, or the test above proves nothing.
    assert {"aws_kms_key", "aws_efs_file_system", "aws_ecr_repository", "aws_db_instance", "tls_self_signed_cert"} <= seen


def test_every_ca_key_is_protected_with_its_certificate(default_stacks: dict[str, StackJson]) -> None:
    for stack in default_stacks.values():
        for name, certificate in stack.resources("tls_self_signed_cert").items():
            key_address = re.match(r"\$\{tls_private_key\.([^.]+)\.", certificate["private_key_pem"]).group(1)
            key = stack.resources("tls_private_key")[key_address]
            assert key.get("lifecycle", {}).get("prevent_destroy") is True, f"{stack.stack_id}: CA key of {name}"


def test_no_key_material_in_any_synthesized_stack(default_stacks: dict[str, StackJson]) -> None:
    for stack in default_stacks.values():
        text = stack.path.read_text()
        assert not PEM.search(text), f"{stack.stack_id}: a PEM block is written into the JSON"
        assert not AWS_ACCESS_KEY.search(text), f"{stack.stack_id}: an AWS access key id is written into the JSON"


def literal_secrets(value: object, path: str = "") -> list[str]:
    """Attributes that hold a secret as a literal (not a reference or variable)."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if key in SECRET_ATTRIBUTES and isinstance(item, str) and not item.startswith("${"):
                found.append(where)
            found += literal_secrets(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += literal_secrets(item, f"{path}[{index}]")
    return found


@pytest.mark.parametrize("section", ["resource", "provider", "variable", "locals"])
def test_no_literal_secret_attributes(default_stacks: dict[str, StackJson], section: str) -> None:
    for stack in default_stacks.values():
        assert not literal_secrets(stack.data.get(section, {})), f"{stack.stack_id} {section}"


def test_outputs_carrying_keys_are_sensitive(default_stacks: dict[str, StackJson]) -> None:
    for stack in default_stacks.values():
        for name, output in stack.outputs().items():
            value = str(output.get("value", ""))
            if re.search(r"private_key|\.token|password", value) or re.search(r"private_key|password|token", name):
                assert output.get("sensitive") is True, f"{stack.stack_id} output {name} exposes a secret"


def test_the_hygiene_checks_catch_what_they_look_for() -> None:
    assert PEM.search('{"x": "-----BEGIN RSA PRIVATE KEY-----"}')
    assert literal_secrets({"aws_db_instance": {"db": {"password": "hunter2"}}}) == ["aws_db_instance.db.password"]
    assert not literal_secrets({"aws_db_instance": {"db": {"password": "${var.db_password}"}}})
