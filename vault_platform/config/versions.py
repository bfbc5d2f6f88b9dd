"""The versions AWS still creates: one dated table for EKS Kubernetes and RDS PostgreSQL.

Each row is a version, the last day of AWS's standard support for it, for EKS the last day
of extended support, and where the dates come from. A lifecycle, not a cliff: an EKS version
in extended support (12 months after standard support, billed extra per cluster hour) is
accepted with a notice naming the date and the cost (synth output, plan summary); one past
extended support is refused (EKS no longer creates it and upgrades existing control planes
itself). RDS PostgreSQL majors are refused after standard support (RDS Extended Support is
not something to fall into). Validation (config/validate.py) applies this on the day a date
passes; the table is checked against AWS by ``make check-versions``
(vault_platform/ops/check_versions.py) and edited by hand, reviewed.

Checked on 2026-11-30 (EKS extended-support dates and 1.29-1.32 on 2026-12-05) against:
- EKS: "Understand the Kubernetes version lifecycle on EKS" (a minor version has 14 months
  of standard support from its EKS release) and its release calendar,
  https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html
- RDS: "Release calendars for Amazon RDS for PostgreSQL" (major versions),
  https://docs.aws.amazon.com/AmazonRDS/latest/PostgreSQLReleaseNotes/postgresql-release-calendar.html
  RDS pins the major version only: minor versions reach their own end within months (16.8
  could not be created from 2026-05-01) and RDS upgrades them itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class SupportedVersion:
    version: str
    standard_support_ends: date  # the last day of standard support
    source: str
    extended_support_ends: date | None = None  # EKS: the last day AWS runs the version at all


EKS_CALENDAR = "https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html"
RDS_POSTGRES_CALENDAR = "https://docs.aws.amazon.com/AmazonRDS/latest/PostgreSQLReleaseNotes/postgresql-release-calendar.html"

# Rows older than the newest are kept until their extended support ends, so a file naming
# one gets its dates, not "unknown". 1.35's end of extended support is the calendar's rule
# (standard support + 12 months); the calendar lists it once AWS publishes it.
KUBERNETES_VERSIONS: tuple[SupportedVersion, ...] = (
    SupportedVersion("1.29", date(2025, 3, 23), EKS_CALENDAR, date(2026, 3, 23)),
    SupportedVersion("1.30", date(2025, 7, 23), EKS_CALENDAR, date(2026, 7, 23)),
    SupportedVersion("1.31", date(2025, 11, 26), EKS_CALENDAR, date(2026, 11, 26)),
    SupportedVersion("1.32", date(2026, 3, 23), EKS_CALENDAR, date(2027, 3, 23)),
    SupportedVersion("1.33", date(2026, 7, 29), EKS_CALENDAR, date(2027, 7, 29)),
    SupportedVersion("1.34", date(2026, 12, 2), EKS_CALENDAR, date(2027, 12, 2)),
    SupportedVersion("1.35", date(2027, 3, 27), EKS_CALENDAR, date(2028, 3, 27)),
)
# What a cluster in extended support costs (Amazon EKS pricing, read 2026-12-05).
EKS_EXTENDED_SUPPORT_COST = "$0.60 per cluster hour instead of $0.10 (https://aws.amazon.com/eks/pricing/)"

POSTGRES_MAJOR_VERSIONS: tuple[SupportedVersion, ...] = (
    SupportedVersion("14", date(2027, 2, 28), RDS_POSTGRES_CALENDAR),
    SupportedVersion("15", date(2028, 2, 29), RDS_POSTGRES_CALENDAR),
    SupportedVersion("16", date(2029, 2, 28), RDS_POSTGRES_CALENDAR),
    SupportedVersion("17", date(2030, 2, 28), RDS_POSTGRES_CALENDAR),
)

# The defaults of config/model.py: Kubernetes the newest row; PostgreSQL the major the Vault
# suite runs against (RDS's 16), not the newest row.
DEFAULT_KUBERNETES_VERSION = KUBERNETES_VERSIONS[-1].version
DEFAULT_POSTGRES_VERSION = "16"  # the demo's client and Vault's plugin are tested on 16 (PostgreSQL 16 binaries)


def in_standard_support(table: tuple[SupportedVersion, ...], on: date) -> tuple[SupportedVersion, ...]:
    return tuple(row for row in table if row.standard_support_ends >= on)


def find(table: tuple[SupportedVersion, ...], version: str) -> SupportedVersion | None:
    return next((row for row in table if row.version == version), None)


def in_extended_support(row: SupportedVersion, on: date) -> bool:
    return row.extended_support_ends is not None and row.standard_support_ends < on <= row.extended_support_ends
