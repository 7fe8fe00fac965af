"""Commit storm for test_crash_atomicity.py: run as ``python _commit_storm.py DB FIRST_TXN``.

Each transaction ``n`` writes 5 keys on 2 actors and 1 reminder, all tagged with ``n``,
and ``ACK n`` is printed only after ``commit`` returned, i.e. after SQLite's COMMIT with
synchronous=FULL. The parent kills this process with SIGKILL at an arbitrary moment and
checks that every acknowledged transaction survived whole and no other one survived in
part.
"""

from __future__ import annotations

import asyncio
import itertools
import sys

from wfsidecar.store.base import Changes, Reminder
from wfsidecar.store.sqlite import SqliteStore
from wfsidecar.types import ActorRef

ACTORS = 40


def transaction(n: int) -> Changes:
    """The changes of transaction ``n``; the test rebuilds the expectation from ``n``."""
    first = ActorRef("storm", f"a{n % ACTORS}")
    second = ActorRef("storm", f"b{(n * 7) % ACTORS}")
    tag = f"{n}".encode() * 20
    changes = Changes()
    for j in range(3):
        changes.put(first, f"t{n}.{j}", tag)
    for j in range(3, 5):
        changes.put(second, f"t{n}.{j}", tag)
    changes.set_reminder(Reminder(first, f"t{n}", due_ms=n, data=tag, etag=n))
    return changes


async def main(path: str, first_txn: int, workers: int = 32) -> None:
    store = await SqliteStore.open(path)
    counter = itertools.count(first_txn)

    async def worker() -> None:
        while True:
            n = next(counter)
            await store.commit(transaction(n))
            sys.stdout.write(f"ACK {n}\n")
            sys.stdout.flush()

    sys.stdout.write("READY\n")
    sys.stdout.flush()
    async with asyncio.TaskGroup() as group:
        for _ in range(workers):
            group.create_task(worker())


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
