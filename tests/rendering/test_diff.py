"""The plan summary's object diff on hand-made renders (quick tier: no Helm)."""

from __future__ import annotations

from vault_platform.rendering import diff


def _entry(release: str, obj: dict) -> dict:
    return {"release": release, "object": obj}


def test_a_pin_bump_names_both_versions_and_the_changed_fields():
    deployment = {"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"image": "istio/pilot:1.30.3"}]}}}}
    bumped = {"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"image": "istio/pilot:1.30.4"}]}}}}
    base = {"application istiod Deployment istio-system/istiod": _entry("istiod istiod@1.30.3", deployment),
            "application istiod ConfigMap istio-system/gone": _entry("istiod istiod@1.30.3", {"kind": "ConfigMap"})}
    new = {"application istiod Deployment istio-system/istiod": _entry("istiod istiod@1.30.4", bumped),
           "application istiod Service istio-system/new": _entry("istiod istiod@1.30.4", {"kind": "Service"})}
    assert diff.changes(base, new) == [
        "**removed** `application istiod ConfigMap istio-system/gone` (istiod istiod@1.30.3)",
        "**changed** `application istiod Deployment istio-system/istiod` (istiod istiod@1.30.3 -> istiod istiod@1.30.4): "
        "`spec.template.spec.containers[0].image`",
        "**added** `application istiod Service istio-system/new` (istiod istiod@1.30.4)",
    ]


def test_without_a_base_the_first_plan_says_so():
    assert diff.changes(None, {"a": _entry("r", {})}) == [
        "no earlier renders to compare with: 1 objects saved as the base of the next plan"]


def test_saved_renders_round_trip(tmp_path):
    renders = {"k": _entry("r c@1", {"kind": "ConfigMap", "data": {"a": "b"}})}
    diff.save(tmp_path / "r.json.gz", renders)
    assert diff.load(tmp_path / "r.json.gz") == renders
    assert diff.load(tmp_path / "missing.json.gz") is None

