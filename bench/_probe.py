"""Measurement helpers shared by bench/compare.py and the drivers it runs in the SDK
virtualenvs (standard library only, since it is imported there too)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable

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


async def closed_loop(run: Callable[[int, bool], Awaitable[None]], count: int,
                      concurrency: int, pid: int, warmup: int) -> dict[str, float]:
    """Run ``run(i, counted)`` WARMUP times uncounted, then COUNT times, at most
    ``concurrency`` at once (each one start-and-wait). Returns wall seconds, latency p50/p99
    and the CPU seconds sidecar ``pid`` and this process spent over the counted part."""
    slots = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(i: int, counted: bool) -> None:
        async with slots:
            started = time.perf_counter()
            await run(i, counted)
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(one(i, False) for i in range(warmup)))
    latencies.clear()
    sidecar0, own0, started = cpu_seconds(pid), own_cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(one(i, True) for i in range(count)))
    seconds = time.perf_counter() - started
    return {"workflows": count, "seconds": seconds, "p50_ms": percentile_ms(latencies, 0.5),
            "p99_ms": percentile_ms(latencies, 0.99),
            "sidecar_cpu_s": cpu_seconds(pid) - sidecar0, "app_cpu_s": own_cpu_seconds() - own0}
