"""A HelmRelease's valuesFrom, merged as helm-controller does (quick tier: no Helm)."""

from __future__ import annotations

from vault_platform.rendering.releases import _values_from


def test_values_from_merges_under_values_as_helm_controller_does():
    release = {"metadata": {"name": "r", "namespace": "flux-system"},
               "spec": {"valuesFrom": [{"kind": "ConfigMap", "name": "base"},
                                       {"kind": "ConfigMap", "name": "one", "valuesKey": "n", "targetPath": "a.b"}],
                        "values": {"x": {"y": 2}}}}
    objects = ({"kind": "ConfigMap", "metadata": {"name": "base", "namespace": "flux-system"},
                "data": {"values.yaml": "x: {y: 1, z: 1}\nk: v\n"}},
               {"kind": "ConfigMap", "metadata": {"name": "one", "namespace": "flux-system"}, "data": {"n": "3"}})
    assert _values_from(release, objects, "f") == {"x": {"y": 2, "z": 1}, "k": "v", "a": {"b": 3}}
