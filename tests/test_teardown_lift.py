"""The teardown's lift of deletion protection (emulator_deploy.plan_lift) counts only as an
in-place update that turns the protection off: a replace or a create would destroy or
re-create the database during a teardown, so the teardown refuses those before applying
anything (emulator_deploy._terraform_destroy)."""

from __future__ import annotations

import pytest

from vault_platform.ops.emulator_deploy import lifted_in_place


@pytest.mark.parametrize(("change", "lifted"), [
    ({"actions": ["update"], "after": {"deletion_protection": False}}, True),
    ({"actions": ["update"], "after": {"deletion_protection": True}}, False),
    ({"actions": ["delete", "create"], "after": {"deletion_protection": False}}, False),
    ({"actions": ["create"], "after": {"deletion_protection": False}}, False),
    ({"actions": ["no-op"]}, False),
])
def test_only_an_in_place_update_counts_as_a_lift(change: dict, lifted: bool) -> None:
    assert lifted_in_place(change) is lifted
