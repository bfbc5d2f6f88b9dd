"""Flux's semver ImagePolicy, in Python: which tags are versions, which versions a range admits,
and which one the policy picks. A stand-in for the Go code the image-reflector-controller runs
(no Python package implements Masterminds' constraint syntax: python-semver and packaging use
other grammars), written from these rules, not copied:

- Flux (image-reflector-controller v1.1.0, the flux2 2.18.0 chart's; internal/policy/semver.go):
  every tag is parsed with fluxcd/pkg version.ParseVersion; a tag that does not parse is skipped;
  of the versions the range admits the greatest wins, and the tag is reported as written.
- fluxcd/pkg version/version.go (v0.12.0): a tag must have at least three dot-separated parts
  (``1.2`` and ``latest`` are not versions), then Masterminds' NewVersion: an optional leading
  ``v``, numbers without leading zeros, an optional ``-prerelease`` and ``+metadata``.
- Masterminds/semver v3.4.0 (constraints.go, version.go): ``a - b`` means ``>= a, <= b``; ``||``
  separates alternatives, a comma or spaces join constraints that must all hold; operators
  ``= != > < >= => <= =< ~ ~> ^`` and none (equal, or tilde when a part is a wildcard); ``x``,
  ``X``, ``*`` or a missing part is a wildcard. A pre-release is admitted only by an
  alternative in which some constraint names a pre-release (Flux never sets IncludePrerelease).
  Versions compare by major, minor, patch, then pre-release (a release is greater; numeric
  identifiers compare as numbers and sort before alphanumeric ones); metadata is ignored.

What is left out: Masterminds' detailed error messages and its lenient "coerce" mode (off by
default and in Flux).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

_NUMBER = r"(?:0|[1-9][0-9]*)"
_IDENTIFIER = r"(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)"
_VERSION = re.compile(rf"^v?({_NUMBER})(?:\.({_NUMBER}))?(?:\.({_NUMBER}))?"
                      rf"(?:-({_IDENTIFIER}(?:\.{_IDENTIFIER})*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$")
# One constraint inside a range: operator, then a version whose parts may be wildcards.
_PART = r"[0-9xX*]+"
_CONSTRAINT_VERSION = (rf"v?({_PART})(\.{_PART})?(\.{_PART})?"
                       r"(-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?")
_OPERATOR = r"!=|>=|=>|<=|=<|~>|=|>|<|~|\^|"
_ONE = re.compile(rf"({_OPERATOR})\s*({_CONSTRAINT_VERSION})")
_GROUP = re.compile(rf"^\s*(?:{_OPERATOR})\s*{_CONSTRAINT_VERSION}\s*(?:(?:\s+|,\s*)(?:{_OPERATOR})\s*{_CONSTRAINT_VERSION}\s*)*$")
_HYPHEN_RANGE = re.compile(rf"\s*({_CONSTRAINT_VERSION})\s+-\s+({_CONSTRAINT_VERSION})\s*")
_WILDCARDS = {"x", "X", "*"}


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: str = ""
    original: str = ""

    def _core(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def compare(self, other: Version) -> int:
        if self._core() != other._core():
            return -1 if self._core() < other._core() else 1
        if self.prerelease == other.prerelease:
            return 0
        if not self.prerelease:
            return 1
        if not other.prerelease:
            return -1
        return _compare_prerelease(self.prerelease, other.prerelease)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self.compare(other) == 0

    def __lt__(self, other: Version) -> bool:
        return self.compare(other) < 0

    def __hash__(self) -> int:
        return hash((self._core(), self.prerelease))


def _compare_prerelease(left: str, right: str) -> int:
    a, b = left.split("."), right.split(".")
    for index in range(max(len(a), len(b))):
        x, y = (a[index] if index < len(a) else ""), (b[index] if index < len(b) else "")
        if x == y:
            continue
        if not x or not y:  # the shorter list of otherwise equal identifiers is the lower
            return -1 if not x else 1
        if x.isdigit() and y.isdigit():
            return -1 if int(x) < int(y) else 1
        if x.isdigit() != y.isdigit():
            return -1 if x.isdigit() else 1
        return -1 if x < y else 1
    return 0


def parse_version(text: str) -> Version | None:
    """The tag as a version, by Flux's rule; None when Flux would skip it."""
    if len(text.split(".", 2)) != 3:
        return None
    match = _VERSION.match(text)
    if match is None:
        return None
    major, minor, patch, pre, _meta = match.groups()
    return Version(int(major), int(minor or 0), int(patch or 0), pre or "", text)


@dataclass(frozen=True)
class _Constraint:
    operator: str
    version: Version
    minor_wild: bool
    patch_wild: bool
    wild: bool

    def admits(self, v: Version) -> bool:
        c, op = self.version, self.operator
        if op in ("", "="):
            return self._tilde(v) if self.wild else v == c
        if op == "!=":
            return self._not_equal(v)
        if op == ">":
            if not self.wild:
                return v > c
            if v.major != c.major:
                return v.major > c.major
            if self.minor_wild:
                return False
            return v.minor > c.minor if self.patch_wild else v > c
        if op == "<":
            return v < c
        if op in (">=", "=>"):
            return v >= c
        if op in ("<=", "=<"):
            if not self.wild:
                return v <= c
            return not (v.major > c.major or (v.major == c.major and v.minor > c.minor and not self.minor_wild))
        if op in ("~", "~>"):
            return self._tilde(v)
        return self._caret(v)

    def _tilde(self, v: Version) -> bool:
        c = self.version
        if v < c:
            return False
        if c._core() == (0, 0, 0) and not self.minor_wild and not self.patch_wild:
            return True
        return v.major == c.major and (v.minor == c.minor or self.minor_wild)

    def _not_equal(self, v: Version) -> bool:
        c = self.version
        if self.wild:
            if c.major != v.major:
                return True
            if self.minor_wild:
                return False
            if c.minor != v.minor:
                return True
            if self.patch_wild:
                return (bool(v.prerelease or c.prerelease)
                        and _compare_prerelease(v.prerelease, c.prerelease) != 0)
            if c.patch != v.patch:
                return True
        return v != c

    def _caret(self, v: Version) -> bool:
        c = self.version
        if v < c:
            return False
        if c.major > 0 or self.minor_wild:
            return v.major == c.major
        if v.major > 0:
            return False
        if c.minor > 0 or self.patch_wild:
            return v.minor == c.minor
        if v.minor > 0:
            return False
        return v.patch == c.patch


def _constraint(operator: str, text: str) -> _Constraint:
    match = re.fullmatch(_CONSTRAINT_VERSION, text)
    assert match is not None  # the group pattern matched it already
    major, minor, patch, pre, _meta = match.groups()
    minor, patch = (minor or "").lstrip("."), (patch or "").lstrip(".")
    pre = (pre or "").lstrip("-")
    if major in _WILDCARDS:
        return _Constraint(operator, Version(0, 0, 0, pre), False, False, True)
    if not minor or minor in _WILDCARDS:
        return _Constraint(operator, Version(int(major), 0, 0, pre), True, False, True)
    if not patch or patch in _WILDCARDS:
        return _Constraint(operator, Version(int(major), int(minor), 0, pre), False, True, True)
    return _Constraint(operator, Version(int(major), int(minor), int(patch), pre), False, False, False)


@dataclass(frozen=True)
class Range:
    """A parsed ``.spec.policy.semver.range``: alternatives, each constraints that must all hold."""

    text: str
    alternatives: tuple[tuple[_Constraint, ...], ...]

    def admits(self, version: Version) -> bool:
        for group in self.alternatives:
            with_prereleases = any(c.version.prerelease for c in group)
            if version.prerelease and not with_prereleases:
                continue
            if all(c.admits(version) for c in group):
                return True
        return False

    def latest(self, tags: list[str]) -> str | None:
        """The tag Flux's semver policy picks from ``tags`` (as written), or None."""
        admitted = [v for v in map(parse_version, tags) if v is not None and self.admits(v)]
        return max(admitted).original if admitted else None

    def satisfiable(self) -> bool:
        """Whether any version at all is admitted: each alternative's feasible versions, if any,
        start at or just past one of its bounds, so trying each bound and its neighbours decides it."""
        probes: set[Version] = {Version(0, 0, 0), Version(0, 0, 1)}
        for group in self.alternatives:
            for c in group:
                v = c.version
                for core in ((v.major, v.minor, v.patch), (v.major, v.minor, v.patch + 1),
                             (v.major, v.minor + 1, 0), (v.major + 1, 0, 0)):
                    probes.add(Version(*core))
                    if v.prerelease:
                        probes.update({Version(*core, v.prerelease), Version(*core, v.prerelease + ".0")})
        return any(self.admits(p) for p in probes)


class RangeError(ValueError):
    """A range Masterminds' NewConstraint refuses (the ImagePolicy then never becomes ready)."""


def parse_range(text: str) -> Range:
    rewritten = _HYPHEN_RANGE.sub(lambda m: f">= {m.group(1)}, <= {m.group(7)} ", text)
    alternatives = []
    for part in rewritten.split("||"):
        if not _GROUP.match(part):
            raise RangeError(f"improper constraint: {part.strip() or repr(part)}")
        alternatives.append(tuple(_constraint(m.group(1), m.group(2)) for m in _ONE.finditer(part)))
    return Range(text, tuple(alternatives))
