"""The instance index contract: every store answers an ``InstanceQuery`` the same way.

Runs against each store (conftest.py's ``store`` fixture), and checks the SQL against the
reference semantics (``InstanceFilter.matches``, ``instances.sort_key``) on a generated set
of rows: every filter field, every sort both ways, paging through the cursor to the end.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest

from wfsidecar.errors import InvalidArgumentError, StoreError
from wfsidecar.store.base import Changes, StateStore
from wfsidecar.store.instances import (
    SORT_FIELDS,
    InstanceFilter,
    InstanceQuery,
    InstanceRow,
    InstanceTotals,
    sort_key,
)
from wfsidecar.store.sqlite import SqliteStore
from wfsidecar.types import ActorRef

WF = "dapr.internal.wfengine.workflow"


def row(instance_id: str, **fields: object) -> InstanceRow:
    base = InstanceRow(instance_id=instance_id, name="Flow", version=None, status=0,
                       created_ms=1000, updated_ms=1000, completed_ms=None, parent_id=None,
                       dialect="dapr", stall_reason=None, custom_status=None, history_len=3,
                       stored_bytes=120)
    return replace(base, **fields)  # type: ignore[arg-type]


async def put_rows(store: StateStore, *rows: InstanceRow) -> None:
    changes = Changes()
    for r in rows:
        ref = ActorRef(WF, r.instance_id)
        changes.put(ref, "metadata", b"{}")
        changes.put_instance(ref, r)
    await store.commit(changes)


async def all_pages(store: StateStore, query: InstanceQuery) -> list[InstanceRow]:
    found: list[InstanceRow] = []
    while True:
        page = await store.query_instances(query)
        found.extend(page.rows)
        if page.next_cursor is None:
            return found
        query = replace(query, cursor=page.next_cursor)


async def test_rows_round_trip_upsert_and_go_with_the_actor(store: StateStore) -> None:
    first = row("a", custom_status="hello", parent_id="p", version="1.0")
    await put_rows(store, first, row("b"))
    page = await store.query_instances(InstanceQuery(sort="id", descending=False))
    assert page.rows == [first, row("b")] and page.next_cursor is None
    await put_rows(store, replace(first, status=1, completed_ms=2000))
    assert (await store.query_instances(InstanceQuery(
        InstanceFilter(statuses=frozenset({1}))))).rows == [
        replace(first, status=1, completed_ms=2000)]
    changes = Changes()
    changes.delete_actor(ActorRef(WF, "a"))  # a purge takes the row with the state
    await store.commit(changes)
    assert [r.instance_id for r in (await store.query_instances(InstanceQuery())).rows] == ["b"]
    assert await store.count_instances(InstanceFilter()) == InstanceTotals(1, 120)


def generated(n: int) -> list[InstanceRow]:
    rnd = random.Random(7)
    rows = []
    for i in range(n):
        created = rnd.randrange(0, 50) * 10  # many ties: the id must break them
        done = rnd.random() < 0.5
        rows.append(row(
            f"{rnd.choice(['ord', 'pay', 'x'])}-{i:03d}", name=rnd.choice(["A", "B", "C"]),
            status=rnd.choice([0, 1, 3, 5, 6, 7, 8]), created_ms=created,
            updated_ms=created + rnd.randrange(0, 100),
            completed_ms=created + 200 if done else None,
            parent_id=rnd.choice([None, "ord-001"])))
    return rows


FILTERS = [
    InstanceFilter(),
    InstanceFilter(statuses=frozenset({1, 3})),
    InstanceFilter(name="B"),
    InstanceFilter(id_prefix="pay-"),
    InstanceFilter(parent_id="ord-001"),
    InstanceFilter(created_from_ms=100, created_to_ms=300),
    InstanceFilter(updated_from_ms=250),
    InstanceFilter(completed_to_ms=400),
    InstanceFilter(statuses=frozenset({0}), id_prefix="x", created_to_ms=400),
]


@pytest.mark.parametrize("flt", FILTERS)
async def test_every_filter_sort_and_page_size_matches_the_reference(
        store: StateStore, flt: InstanceFilter) -> None:
    rows = generated(120)
    await put_rows(store, *rows)
    matching = [r for r in rows if flt.matches(r)]
    assert await store.count_instances(flt) == InstanceTotals(
        len(matching), sum(r.stored_bytes for r in matching))
    for sort in SORT_FIELDS:
        for descending in (True, False):
            want = sorted(matching, key=lambda r: sort_key(r, sort), reverse=descending)
            for limit in (7, 1000):
                got = await all_pages(store, InstanceQuery(flt, sort, descending, limit))
                assert got == want, (sort, descending, limit)


async def test_bad_cursors_and_sizes_are_refused(store: StateStore) -> None:
    await put_rows(store, *generated(5))
    page = await store.query_instances(InstanceQuery(limit=2))
    assert page.next_cursor is not None
    with pytest.raises(InvalidArgumentError, match="another sort order"):
        await store.query_instances(InstanceQuery(sort="name", limit=2,
                                                  cursor=page.next_cursor))
    for bad in ("not base64!", "eyJ4Ijox", "WzEsMiwzXQ"):
        with pytest.raises(InvalidArgumentError, match="bad cursor"):
            await store.query_instances(InstanceQuery(cursor=bad))
    with pytest.raises(InvalidArgumentError, match="page size"):
        InstanceQuery(limit=0)
    with pytest.raises(InvalidArgumentError, match="cannot sort"):
        InstanceQuery(sort="color")  # type: ignore[arg-type]


async def test_a_bad_row_is_refused_before_anything_is_written(store: StateStore) -> None:
    changes = Changes()
    changes.put(ActorRef(WF, "a"), "metadata", b"{}")
    changes.put_instance(ActorRef(WF, "a"), row("a", status="RUNNING"))
    with pytest.raises(StoreError, match="status must be int"):
        await store.commit(changes)
    assert await store.load_actor(ActorRef(WF, "a")) == {}


async def test_an_upgraded_file_asks_for_a_backfill_once(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    fresh = await SqliteStore.open(db)
    assert not await fresh.instance_backfill_pending()  # nothing stored before the index
    await fresh.close()
    # A file written by schema version 1: state, no index, no meta table.
    import sqlite3
    conn = sqlite3.connect(db)
    conn.executescript("DROP TABLE packed_state; DROP TABLE instances; DROP TABLE store_meta;"
                       "DELETE FROM schema_version WHERE version >= 2;"
                       "INSERT INTO actors (id, type, actor_id) VALUES (1, 'w', 'x');"
                       "INSERT INTO actor_state VALUES (1, 'metadata', x'00');")
    conn.commit()
    conn.close()
    upgraded = await SqliteStore.open(db)
    try:
        assert await upgraded.instance_backfill_pending()
        await upgraded.instance_backfill_done()
        assert not await upgraded.instance_backfill_pending()
    finally:
        await upgraded.close()
