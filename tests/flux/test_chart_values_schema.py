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
# (chart, version) -> committed schema file (chart_schemas/SOURCES.md).
PINNED_WITH_SCHEMA = {
    ("gateway", "1.30.3"): "istio-gateway-1.30.3.values.schema.json",
    ("external-dns", "1.15.0"): "external-dns-1.15.0.values.schema.json",
}
# Pins whose schema is too large to commit: checked outside the repo with the same validator
# (Draft 2020-12), source and result recorded. A moved pin fails until it is checked again.
VALIDATED_UPSTREAM = {
    ("cert-manager", "v1.17.1"): "cert-manager/cert-manager v1.17.1 deploy/charts/cert-manager/values.schema.json: 0 errors",
    ("external-secrets", "0.17.0"): "external-secrets/external-secrets helm-chart-0.17.0 "
                                    "deploy/charts/external-secrets/values.schema.json: 0 errors",
    ("vault", "0.30.0"): "hashicorp/vault-helm v0.30.0 values.schema.json: 0 errors (server and injector releases)",
}
# Pins of charts without a values.schema.json, or whose schema could not be read here.
NO_SCHEMA = {
    ("base", "1.30.3"): "istio base ships none",
    ("istiod", "1.30.3"): "istio istiod ships none",
    ("gitlab-runner", "0.71.0"): "unchecked: the chart's source is on gitlab.com, which the tools here could not read",
}


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
    known = {**PINNED_WITH_SCHEMA, **VALIDATED_UPSTREAM, **NO_SCHEMA}
    assert key in known, (
        f"{path.relative_to(FLUX.parent)}: chart {key[0]} {key[1]} is pinned without a checked values schema; "
        "add upstream's values.schema.json at that tag to tests/flux/chart_schemas/ (or record it in VALIDATED_UPSTREAM)")
    if key not in PINNED_WITH_SCHEMA:
        pytest.skip(f"{key}: {known[key]}")
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
