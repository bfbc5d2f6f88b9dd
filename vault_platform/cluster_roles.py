"""The two kinds of cluster an environment has. An add-on names the kinds it runs on; the
platform-vars contract lists keys per kind; every application cluster shares one Flux tree."""

from __future__ import annotations

TOOLING = "tooling"
APPLICATION = "application"
BOTH = (TOOLING, APPLICATION)
