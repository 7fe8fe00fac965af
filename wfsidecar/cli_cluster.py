"""``wfsidecar cluster status``: the daemons sharing one PostgreSQL database.

Reads the store's tables directly with the ``store.postgres.dsn`` of the usual config
(file, environment or ``--postgres-dsn``), so it answers while daemons are down.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import click
from tabulate import tabulate

from wfsidecar.cli_output import emit, human_age


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.1f}s"


@click.group("cluster")
def cluster_group() -> None:
    """Several daemons on one PostgreSQL database (docs/multi-node.md)."""


@cluster_group.command()
@click.option("--config", "config_file", type=click.Path(path_type=Path),
              envvar="WFSIDECAR_CONFIG", help="YAML config file naming the database.")
@click.option("--postgres-dsn", help="PostgreSQL connection string (store.postgres.dsn).")
@click.option("-o", "--output", "fmt", type=click.Choice(["table", "json", "yaml"]),
              default="table", show_default=True)
def status(config_file: Path | None, postgres_dsn: str | None, fmt: str) -> None:
    """Daemons, their partitions and lease ages, and how far behind each one is.

    LAG is how long the oldest reminder of the daemon's partitions has been due
    (OVERDUE counts those due over a second ago); a daemon whose HEARTBEAT is older than
    the lease TTL is dead, and its partitions are being taken over.
    """
    from wfsidecar.cli import EXIT_FATAL, EXIT_USAGE, _fail, _load
    from wfsidecar.store.cluster_status import read_status

    config = _load(config_file, {"postgres_dsn": postgres_dsn})
    dsn = config.store.postgres.dsn
    if not dsn:
        _fail(EXIT_USAGE, "no database: set store.postgres.dsn (or --postgres-dsn)")
    try:
        found = asyncio.run(read_status(dsn))
    except Exception as exc:  # any driver or network failure is one line and exit 1
        _fail(EXIT_FATAL, f"cannot read the cluster's tables: {exc}")

    def table(_wide: bool) -> str:
        rows = [[d.id, d.workers or "-", d.partitions, human_age(d.up_ms / 1000),
                 _seconds(d.heartbeat_age_ms), _seconds(d.oldest_lease_ms),
                 _seconds(d.lease_left_ms), d.takeovers, d.refused, d.overdue,
                 _seconds(d.lag_ms)] for d in found.daemons]
        head = (f"partitions: {found.partitions}, unowned or expired: {found.unowned}"
                f" ({found.unowned_overdue} reminders overdue in them)\n")
        return head + tabulate(rows, headers=[
            "DAEMON", "WORKERS", "PARTITIONS", "UP", "HEARTBEAT", "HELD", "LEASE LEFT",
            "TAKEOVERS", "REFUSED", "OVERDUE", "LAG"], tablefmt="plain")

    emit(dataclasses.asdict(found), fmt, table)
