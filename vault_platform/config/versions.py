"""The versions AWS still creates: one dated table for EKS Kubernetes and RDS PostgreSQL.

Each row is a version, the last day of AWS's standard support for it (after it, EKS bills
extended support from day one; RDS refuses to create it or bills RDS Extended Support),
and where that date comes from. Validation (config/validate.py) rejects a version whose
date has passed, on the day it passes: the table is checked against AWS by
``make check-versions`` (vault_platform/ops/check_versions.py) and edited by hand, reviewed.

Checked on 2026-11-30 against:
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


EKS_CALENDAR = "https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html"
RDS_POSTGRES_CALENDAR = "https://docs.aws.amazon.com/AmazonRDS/latest/PostgreSQLReleaseNotes/postgresql-release-calendar.html"

KUBERNETES_VERSIONS: tuple[SupportedVersion, ...] = (
    SupportedVersion("1.33", date(2026, 7, 29), EKS_CALENDAR),
    SupportedVersion("1.34", date(2026, 12, 2), EKS_CALENDAR),
    SupportedVersion("1.35", date(2027, 3, 27), EKS_CALENDAR),
)

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
