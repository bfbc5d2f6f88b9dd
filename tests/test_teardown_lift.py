"""The teardown's lift of deletion protection (emulator_deploy.plan_lift) counts only as an
in-place update that turns the protection off: a replace or a create would destroy or
re-create the database during a teardown, so the teardown refuses those before applying
anything (emulator_deploy._terraform_destroy)."""

from __future__ import annotations

import pytest

from vault_platform.ops.emulator_deploy import lifted_in_place, protected_in_state


@pytest.mark.parametrize(("change", "lifted"), [
    ({"actions": ["update"], "after": {"deletion_protection": False}}, True),
    ({"actions": ["update"], "after": {"deletion_protection": True}}, False),
    ({"actions": ["delete", "create"], "after": {"deletion_protection": False}}, False),
    ({"actions": ["create"], "after": {"deletion_protection": False}}, False),
    ({"actions": ["no-op"]}, False),
])
def test_only_an_in_place_update_counts_as_a_lift(change: dict, lifted: bool) -> None:
    assert lifted_in_place(change) is lifted


def test_protection_still_on_is_read_from_the_state_with_each_instances_address() -> None:
    """What `terraform state pull` gives (state format 4): addresses as `terraform show` writes them."""
    def resource(rtype: str, name: str, instances: list[dict], mode: str = "managed", module: str | None = None) -> dict:
        return {"mode": mode, "type": rtype, "name": name, **({"module": module} if module else {}), "instances": instances}

    state = {"version": 4, "resources": [
        resource("aws_db_instance", "database", [{"attributes": {"deletion_protection": True}}]),
        resource("aws_db_instance", "lifted", [{"attributes": {"deletion_protection": False}}]),
        resource("aws_lb", "by_name", [{"index_key": "a", "attributes": {"deletion_protection": True}},
                                       {"index_key": "b", "attributes": {"deletion_protection": False}}]),
        resource("aws_rds_cluster", "counted", [{"index_key": 0, "attributes": {"deletion_protection": True}}],
                 module="module.data"),
        resource("aws_db_instance", "looked_up", [{"attributes": {"deletion_protection": True}}], mode="data"),
        resource("aws_s3_bucket", "no_such_attribute", [{"attributes": {"bucket": "b"}}]),
    ]}
    assert protected_in_state(state) == ["aws_db_instance.database", 'aws_lb.by_name["a"]',
                                         "module.data.aws_rds_cluster.counted[0]"]
    assert protected_in_state({}) == []
