"""``wfsidecar cluster status`` and the lease metrics, against two in-process daemons."""

from __future__ import annotations

import asyncio
import json

from click.testing import CliRunner

from tests.multinode._nodes import nodes
from tests.waiting import eventually
from wfsidecar.app import App
from wfsidecar.cli import main


async def _owned(a: App, b: App) -> tuple[int, int]:
    assert a.cluster is not None and b.cluster is not None
    return len(a.cluster.leases.tokens()), len(b.cluster.leases.tokens())


async def test_status_lists_both_daemons_and_their_partitions(pg_database: str) -> None:
    async with nodes(pg_database, 2) as [(a, _), (b, _)]:
        await eventually(lambda: _owned(a, b), lambda n: n == (8, 8))
        assert a.cluster is not None and b.cluster is not None
        result = await asyncio.to_thread(
            CliRunner().invoke, main, ["cluster", "status", "--postgres-dsn", pg_database,
                                       "-o", "json"], env={}, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        found = json.loads(result.output)
        assert found["partitions"] == 16 and found["unowned"] == 0
        assert {d["id"]: d["partitions"] for d in found["daemons"]} == {
            a.cluster.id: 8, b.cluster.id: 8}
        assert all(d["workers"] == "dapr" for d in found["daemons"])
        table = await asyncio.to_thread(
            CliRunner().invoke, main, ["cluster", "status", "--postgres-dsn", pg_database],
            env={}, catch_exceptions=False)
        assert "PARTITIONS" in table.output and a.cluster.id in table.output
        readings = a.cluster.lease_readings()
        assert (readings.owned, readings.partitions) == (8, 16)


def test_status_without_a_database_says_so() -> None:
    result = CliRunner().invoke(main, ["cluster", "status"], env={})
    assert result.exit_code == 2
    assert "store.postgres.dsn" in result.output
