"""A fix an error message gives is followed, and the file must then load.

GIVEN a range clash or a missing table header, WHEN the message's own example is put in the
file, THEN the environment loads (before: a VPN clash suggested the VPN's own range, a second
cluster clash suggested the clashing 10.20.0.0/16, and a missing header said "remove it")."""

from __future__ import annotations

import re
import tomllib

import pytest

from tests.helpers import environment_variant, set_at
from vault_platform.config.load import ENVIRONMENTS_DIR, parse_environment
from vault_platform.errors import ConfigError


def suggested(error: ConfigError) -> str:
    (example,) = re.findall(r"e\.g\. (\d+\.\d+\.\d+\.\d+/\d+)", error.fix)
    return example


@pytest.mark.parametrize(("field", "clash"), [
    ("application.network.cidr", "172.16.0.0/16"),  # lands on the VPN's clients
    ("application.network.cidr", "10.10.0.0/16"),   # lands on tooling
])
def test_the_range_a_clash_suggests_is_free(field: str, clash: str) -> None:
    with pytest.raises(ConfigError) as raised:
        environment_variant(set_at(field, clash))
    fixed = set_at(raised.value.field, suggested(raised.value))
    environment_variant(set_at(field, clash), fixed)  # loads: the example is a value that passes


def test_a_cluster_clash_in_a_multi_cluster_file_suggests_a_free_range() -> None:
    # The second application cluster on the first one's range: the fix used to name 10.20.0.0/16.
    def clash(data: dict) -> None:
        data["application_clusters"][1]["network"]["cidr"] = data["application_clusters"][0]["network"]["cidr"]
    with pytest.raises(ConfigError) as raised:
        environment_variant(clash, base="multi")

    def fixed(data: dict) -> None:
        data["application_clusters"][1]["network"]["cidr"] = suggested(raised.value)
    environment_variant(clash, fixed, base="multi")


@pytest.mark.parametrize("header", ["[tooling.network]", "[application.cluster]", "[application.database]"])
def test_a_missing_table_header_names_the_table_not_remove_it(header: str) -> None:
    text = (ENVIRONMENTS_DIR / "default.toml").read_text()
    assert text.count(f"\n{header}\n") == 1
    broken = text.replace(f"\n{header}\n", "\n", 1)
    with pytest.raises(ConfigError) as raised:
        parse_environment(tomllib.loads(broken), source="environments/default.toml")
    message = str(raised.value)
    assert header in message and "remove it" not in message and "\n" not in message
