"""Availability zones per region, so synth needs no AWS call and fails early on a bad count.

Zone names are listed explicitly because they are not always a, b, c: new accounts get no
ap-northeast-1b and no ca-central-1c. Add a region here, with the zone names AWS gives new
accounts, to use it.
"""

from __future__ import annotations

ZONES_BY_REGION: dict[str, tuple[str, ...]] = {
    "us-east-1": ("a", "b", "c", "d", "f"),  # us-east-1e lacks EKS control-plane capacity
    "us-east-2": ("a", "b", "c"),
    "us-west-2": ("a", "b", "c", "d"),
    "ca-central-1": ("a", "b", "d"),
    "eu-west-1": ("a", "b", "c"),
    "eu-west-2": ("a", "b", "c"),
    "eu-west-3": ("a", "b", "c"),
    "eu-central-1": ("a", "b", "c"),
    "eu-north-1": ("a", "b", "c"),
    "ap-southeast-1": ("a", "b", "c"),
    "ap-southeast-2": ("a", "b", "c"),
    "ap-northeast-1": ("a", "c", "d"),
}


def availability_zones(region: str) -> tuple[str, ...]:
    return tuple(f"{region}{suffix}" for suffix in ZONES_BY_REGION[region])
