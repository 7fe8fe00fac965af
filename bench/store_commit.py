"""Committed actor turns per second: group commit vs one transaction per turn.

Run: ``.venv/bin/python bench/store_commit.py [--seconds N]``

A turn is what an actor commits at the end of one step: three state keys of 100-300
bytes plus one reminder change, in one ``commit``. Each of 1, 8 or 64 actors is a task
doing turns back to back. Both modes use synchronous=FULL (fsync-durable) on a temp file.
The raw single-row WAL FULL commit rate of plain ``sqlite3`` is measured in the same run
as the anchor (performance.md §4.1), since absolute numbers vary between runs on a VM.

Asserts nothing. The last line is ``group_commit_speedup_64=<ratio>`` for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wfsidecar.store.base import Changes, Reminder
from wfsidecar.store.sqlite import SqliteStore
from wfsidecar.types import ActorRef

CONCURRENCY = (1, 8, 64)
WARMUP_S = 0.5


@dataclass(frozen=True)
class Cell:
    group_commit: bool
    actors: int
    turns_per_s: float
    p50_ms: float
    p99_ms: float
    turns_per_txn: float


def raw_sqlite_commits_per_s(folder: Path, seconds: float) -> float:
    """Plain sqlite3, WAL, synchronous=FULL, one small row per transaction."""
    db = sqlite3.connect(folder / "raw.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
    payload = os.urandom(100)
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t (v) VALUES (?)", (payload,))
        db.execute("COMMIT")
        n += 1
    elapsed = time.perf_counter() - start
    db.close()
    return n / elapsed


def turn(ref: ActorRef, n: int, values: list[bytes]) -> Changes:
    changes = Changes()
    changes.put(ref, "history", values[0])
    changes.put(ref, "inbox", values[1])
    changes.put(ref, "meta", values[2])
    changes.set_reminder(Reminder(ref, "timer", due_ms=n, data=b"t", etag=n))
    return changes


async def run_cell(folder: Path, group_commit: bool, actors: int, seconds: float) -> Cell:
    path = folder / f"store-{'group' if group_commit else 'single'}-{actors}.db"
    store = await SqliteStore.open(path, synchronous="FULL", group_commit=group_commit)
    values = [os.urandom(size) for size in (300, 100, 200)]
    latencies: list[float] = []
    counting = False
    stop = False

    async def actor(i: int) -> None:
        ref = ActorRef("workflow", f"bench-{i}")
        n = 0
        while not stop:
            n += 1
            t0 = time.perf_counter()
            await store.commit(turn(ref, n, values))
            if counting:
                latencies.append(time.perf_counter() - t0)

    tasks = [asyncio.create_task(actor(i)) for i in range(actors)]
    try:
        await asyncio.sleep(WARMUP_S)
        txns_before = store.stats.transactions
        counting = True
        start = time.perf_counter()
        await asyncio.sleep(seconds)
        counting = False
        elapsed = time.perf_counter() - start
        txns = store.stats.transactions - txns_before
        stop = True
        await asyncio.gather(*tasks)
    finally:
        await store.close()
    latencies.sort()
    return Cell(
        group_commit,
        actors,
        len(latencies) / elapsed,
        statistics.median(latencies) * 1e3,
        latencies[int(len(latencies) * 0.99)] * 1e3,
        len(latencies) / max(txns, 1),
    )


async def run_all(folder: Path, seconds: float) -> list[Cell]:
    cells = []
    for actors in CONCURRENCY:
        for group_commit in (True, False):
            cells.append(await run_cell(folder, group_commit, actors, seconds))
    return cells


def loop_runner() -> tuple[str, Callable[[Coroutine[Any, Any, list[Cell]]], list[Cell]]]:
    try:
        import uvloop
    except ImportError:
        return "asyncio", asyncio.run

    def run(main: Coroutine[Any, Any, list[Cell]]) -> list[Cell]:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(main)

    return "uvloop", run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measured time per cell")
    args = parser.parse_args()

    loop_name, run = loop_runner()
    print(f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, loop {loop_name}")
    print(f"turn = 3 keys (300+100+200 B) + 1 reminder; synchronous=FULL; {args.seconds:g}s/cell")
    with tempfile.TemporaryDirectory(prefix="wfsidecar-bench-") as tmp:
        folder = Path(tmp)
        raw = raw_sqlite_commits_per_s(folder, args.seconds)
        cells = run(run_all(folder, args.seconds))

    print(f"\nanchor: raw sqlite3 WAL FULL, 1 row/txn: {raw:,.0f} commits/s\n")
    header = f"{'mode':<14}{'actors':>7}{'turns/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'turns/txn':>11}"
    print(header)
    print("-" * len(header))
    for c in cells:
        mode = "group commit" if c.group_commit else "txn per turn"
        print(
            f"{mode:<14}{c.actors:>7}{c.turns_per_s:>11,.0f}{c.p50_ms:>9.2f}"
            f"{c.p99_ms:>9.2f}{c.turns_per_txn:>11.1f}"
        )
    rate = {(c.group_commit, c.actors): c.turns_per_s for c in cells}
    print()
    for actors in CONCURRENCY:
        speedup = rate[True, actors] / rate[False, actors]
        print(f"speedup at {actors:>2} actors: {speedup:.1f}x")
    print(f"group commit at 64 actors vs raw 1-row anchor: {rate[True, 64] / raw:.1f}x")
    print(f"group_commit_speedup_64={rate[True, 64] / rate[False, 64]:.1f}")


if __name__ == "__main__":
    main()
