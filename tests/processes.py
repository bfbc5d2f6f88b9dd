"""The machine's processes as /proc shows them (no psutil here), for tests that look for
what a command left running or measure what its children used."""

from __future__ import annotations

from pathlib import Path

PROC = Path("/proc")


def stat_fields() -> dict[int, list[str]]:
    """Each running process's /proc/<pid>/stat fields after its command name, by pid: [0] the
    state, [1] the parent's pid, [11] and [12] user and system time in clock ticks. The name
    is skipped by its last ')': it may hold spaces and parentheses."""
    fields = {}
    for stat in PROC.glob("[0-9]*/stat"):
        try:
            fields[int(stat.parent.name)] = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended while listed
    return fields


def children(parent: int) -> dict[int, list[str]]:
    """The stat fields (as stat_fields) of ``parent``'s running children, by pid."""
    return {pid: fields for pid, fields in stat_fields().items() if fields[1] == str(parent)}
