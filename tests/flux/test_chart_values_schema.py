"""HelmRelease values against the pinned chart's values.schema.json, as Helm v4 reads it.

Flux 2.8.1's helm-controller runs Helm v4, which validates values with JSON Schema 2020-12
semantics: keywords beside a "$ref" apply too (in draft 7 they were ignored). The istio
gateway chart up to 1.25.4 has "additionalProperties": false beside its top-level "$ref",
so Helm v4 refuses every value (istio/istio#57354, fixed in 1.25.5): the application
cluster's gateway never installs. Schemas are committed for the pinned charts
(chart_schemas/SOURCES.md); a pin moved without its schema fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

FLUX = Path(__file__).resolve().parents[2] / "flux"
SCHEMAS = Path(__file__).parent / "chart_schemas"
# (chart, version) -> schema file; every pinned chart listed here must have its file.
PINNED_WITH_SCHEMA = {("gateway", "1.30.3"): "istio-gateway-1.30.3.values.schema.json"}
# Charts known to ship a values.schema.json upstream: a release of one needs a schema above.
CHARTS_WITH_SCHEMA = {"gateway"}


def helm_releases() -> list[tuple[Path, dict]]:
    found = []
    for path in sorted(FLUX.rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if isinstance(document, dict) and document.get("kind") == "HelmRelease":
                found.append((path, document))
    return found


def helm_v4_errors(schema: dict, values: dict) -> list[str]:
    return [error.message for error in jsonschema.Draft202012Validator(schema).iter_errors(values)]


@pytest.mark.parametrize("path,release", helm_releases(), ids=lambda v: v.name if isinstance(v, Path) else "")
def test_values_pass_the_pinned_charts_schema(path: Path, release: dict) -> None:
    chart = release["spec"]["chart"]["spec"]
    key = (chart["chart"], str(chart["version"]))
    if chart["chart"] not in CHARTS_WITH_SCHEMA:
        pytest.skip(f"{key} ships no values.schema.json we track")
    assert key in PINNED_WITH_SCHEMA, (
        f"{path.relative_to(FLUX.parent)}: chart {key[0]} {key[1]} has no committed values schema; "
        "add upstream's values.schema.json at that tag to tests/flux/chart_schemas/ and PINNED_WITH_SCHEMA")
    schema = json.loads((SCHEMAS / PINNED_WITH_SCHEMA[key]).read_text())
    errors = helm_v4_errors(schema, release["spec"].get("values", {}))
    assert not errors, f"{path.relative_to(FLUX.parent)}: Helm v4 would refuse the values: {errors}"


def test_the_gateway_chart_it_replaced_refuses_our_values_under_helm_v4() -> None:
    """The check can fail: the 1.24.2 schema refuses the same values (istio/istio#57354)."""
    (release,) = [r for _, r in helm_releases() if r["spec"]["chart"]["spec"]["chart"] == "gateway"]
    schema = json.loads((SCHEMAS / "istio-gateway-1.24.2.values.schema.json").read_text())
    assert any("Additional properties are not allowed" in e for e in helm_v4_errors(schema, release["spec"]["values"]))


def test_istio_charts_move_together() -> None:
    versions = {r["spec"]["chart"]["spec"]["version"] for _, r in helm_releases()
                if r["spec"]["chart"]["spec"]["chart"] in ("base", "istiod", "gateway")}
    assert len(versions) == 1, f"istio base, istiod and gateway must share one version, found {versions}"
