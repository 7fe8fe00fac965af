"""Measurement helpers shared by bench/compare.py and the drivers it runs in the SDK
virtualenvs (standard library only, since it is imported there too)."""

from __future__ import annotations

import os

TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of process ``pid`` (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as fh:
        # Fields after the parenthesised command name, which may itself hold spaces.
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S  # stat fields 14 and 15


def own_cpu_seconds() -> float:
    """User plus system CPU of this process so far."""
    times = os.times()
    return times.user + times.system


def percentile_ms(seconds: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``seconds``, in milliseconds."""
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000
