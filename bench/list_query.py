"""list-query: one page of 20 instances filtered by status, at 10,000 and 100,000 stored.

Usage: .venv/bin/python bench/list_query.py [--sizes 10000,100000] [--queries 300]
Fills a temporary SQLite store with instance index rows (90 % COMPLETED, 5 % RUNNING,
5 % FAILED, one workflow-actor state key each, written in batches of 500 as turns would)
and times, on the store's real read path, the first page of RUNNING instances newest first,
a page deeper through the cursor, and a count of them. The time per query should not grow
with the store: the last line is ``list_query_ratio_100k_10k=<x>`` (first page).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from wfsidecar.engine import RuntimeStatus  # noqa: E402
from wfsidecar.store.base import Changes  # noqa: E402
from wfsidecar.store.instances import InstanceFilter, InstanceQuery, InstanceRow  # noqa: E402
from wfsidecar.store.sqlite import SqliteStore  # noqa: E402
from wfsidecar.types import ActorRef  # noqa: E402

WF = "dapr.internal.wfengine.workflow"
RUNNING = frozenset({int(RuntimeStatus.RUNNING)})


async def fill(store: SqliteStore, start: int, stop: int) -> None:
    rnd = random.Random(start)
    t0 = 1_760_000_000_000
    for first in range(start, stop, 500):
        changes = Changes()
        for i in range(first, min(first + 500, stop)):
            roll = rnd.random()
            status = (RuntimeStatus.RUNNING if roll < 0.05 else RuntimeStatus.FAILED
                      if roll < 0.10 else RuntimeStatus.COMPLETED)
            created = t0 + i * 10
            ref = ActorRef(WF, f"order-{i:07d}")
            changes.put(ref, "metadata", b'{"inboxLength":0,"historyLength":9,"generation":1}')
            changes.put_instance(ref, InstanceRow(
                instance_id=ref.id, name="OrderWorkflow", version=None, status=int(status),
                created_ms=created, updated_ms=created + 40,
                completed_ms=None if status is RuntimeStatus.RUNNING else created + 40,
                parent_id=None, dialect="dapr", stall_reason=None, custom_status=None,
                history_len=9, stored_bytes=700))
        await store.commit(changes)


async def timed(label: str, queries: int, call: object) -> float:
    assert callable(call)
    await call()  # warm
    started = time.perf_counter()
    for _ in range(queries):
        await call()
    per = (time.perf_counter() - started) / queries * 1000
    print(f"  {label:<34} {per:7.3f} ms/query")
    return per


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    first_page: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = await SqliteStore.open(Path(tmp) / "wf.db")
        try:
            stored = 0
            for size in sizes:
                await fill(store, stored, size)
                stored = size
                query = InstanceQuery(InstanceFilter(statuses=RUNNING), limit=20)
                page = await store.query_instances(query)
                assert len(page.rows) == 20 and page.next_cursor is not None
                deeper = replace(query, cursor=page.next_cursor)
                running = (await store.count_instances(InstanceFilter(statuses=RUNNING))).count
                print(f"{size:,} instances stored ({running:,} RUNNING):")
                first_page[size] = await timed("first page of 20 RUNNING", args.queries,
                                               lambda q=query: store.query_instances(q))
                await timed("next page (cursor)", args.queries,
                            lambda q=deeper: store.query_instances(q))
                await timed("count RUNNING", args.queries // 10,
                            lambda: store.count_instances(InstanceFilter(statuses=RUNNING)))
        finally:
            await store.close()
    low, high = first_page[sizes[0]], first_page[sizes[-1]]
    print(f"list_query_ratio_100k_10k={high / low:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
