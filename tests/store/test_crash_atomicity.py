"""kill -9 in the middle of a group-commit storm loses nothing acknowledged, tears nothing.

The storm runs in a subprocess (``_commit_storm.py``) so that SIGKILL hits a real process
mid-transaction: SQLite's WAL must then roll back whatever batch was in flight as a unit.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from tests.store._commit_storm import ACTORS
from wfsidecar.store.sqlite import SqliteStore, on_thread
from wfsidecar.types import ActorRef

STORM = Path(__file__).with_name("_commit_storm.py")
KILL_AFTER_ACKS = 400
ROUNDS = 3


async def run_storm_and_kill(db_path: Path, first_txn: int) -> set[int]:
    """Start the storm, SIGKILL it after KILL_AFTER_ACKS acks; return every acked txn."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(STORM), str(db_path), str(first_txn), stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    acked: set[int] = set()
    try:
        assert await asyncio.wait_for(proc.stdout.readline(), 20) == b"READY\n"
        while len(acked) < KILL_AFTER_ACKS:
            line = await asyncio.wait_for(proc.stdout.readline(), 20)
            assert line.startswith(b"ACK "), line
            acked.add(int(line.split()[1]))
    finally:
        proc.send_signal(signal.SIGKILL)
        rest = await proc.stdout.read()  # acks already written when the kill landed
        await proc.wait()
    acked.update(int(n) for n in re.findall(rb"ACK (\d+)\n", rest))
    assert proc.returncode == -signal.SIGKILL
    return acked


async def surviving_transactions(store: SqliteStore) -> dict[int, list[str]]:
    """Group every surviving key and reminder by the transaction number that wrote it."""
    parts: dict[int, list[str]] = defaultdict(list)
    for prefix in ("a", "b"):
        for i in range(ACTORS):
            state = await store.load_actor(ActorRef("storm", f"{prefix}{i}"))
            for key, value in state.items():
                n, j = key[1:].split(".")
                assert value == n.encode() * 20, (key, value)
                parts[int(n)].append(f"{prefix}{i}:{j}")
    for reminder in await store.reminders_due_before(2**62, 10**9):
        parts[reminder.due_ms].append(f"{reminder.ref.id}:reminder")
        assert reminder.etag == reminder.due_ms
    return parts


@pytest.mark.process
async def test_sigkill_mid_storm_keeps_acked_txns_whole(db_path: Path) -> None:
    # Three storms on the same file: each later one also proves that a database recovered
    # from a kill takes new group commits, and gives the kill three chances to land
    # inside a COMMIT.
    acked: set[int] = set()
    for round_ in range(ROUNDS):
        acked |= await run_storm_and_kill(db_path, first_txn=round_ * 1_000_000)

    store = await SqliteStore.open(db_path)  # the dead writer's lock is gone
    try:
        integrity = await on_thread(
            store._reader, lambda c: c.execute("PRAGMA integrity_check").fetchall()
        )
        assert integrity == [("ok",)]
        parts = await surviving_transactions(store)
    finally:
        await store.close()

    missing = acked - parts.keys()
    assert not missing, f"acknowledged but lost: {sorted(missing)[:20]}"
    torn = {n: found for n, found in parts.items() if len(found) != 6}
    assert not torn, f"partially applied: {dict(list(torn.items())[:5])}"
    for n, found in parts.items():
        first, second = f"a{n % ACTORS}", f"b{(n * 7) % ACTORS}"
        expected = [f"{first}:{j}" for j in range(3)] + [f"{second}:{j}" for j in (3, 4)]
        assert sorted(found) == sorted([*expected, f"{first}:reminder"])
