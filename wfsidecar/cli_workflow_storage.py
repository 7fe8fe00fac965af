"""``wfsidecar workflow storage``: the daemon's storage report (GET /v1.0/storage).

The database file's size and free space, instances and stored bytes per status, the
largest instances, and the retention policy with its backlog (what the next sweep would
purge; ``wfsidecar workflow purge --all-older-than ... --dry-run`` answers for a cut of
one's own choosing).
"""

from __future__ import annotations

from typing import Any

import click

from wfsidecar.cli_daemon import output_option, talks_to_daemon
from wfsidecar.cli_output import emit, size, table
from wfsidecar.client import WorkflowClient


@click.command()
@click.option("--largest", type=click.IntRange(0, 100), default=10, show_default=True,
              help="List this many of the instances that store the most bytes.")
@output_option
@talks_to_daemon
def storage(client: WorkflowClient, largest: int, fmt: str) -> None:
    """Show where the store's bytes are and what retention would purge now."""
    report = client.storage(largest)
    emit(report, fmt, lambda wide: storage_text(report))


def storage_text(report: dict[str, Any]) -> str:
    store, instances, retention = report["store"], report["instances"], report["retention"]
    lines = [f"store: {store['backend']}, file {size(store['fileBytes'])}"
             f" ({size(store['freeBytes'])} free)",
             f"instances: {instances['count']}, {size(instances['storedBytes'])} stored",
             ""]
    policy = retention["policySeconds"]
    rows = [(status, m["count"], size(m["storedBytes"]),
             _limit(policy.get(status)),
             retention["backlog"][status]["count"] if status in retention["backlog"] else "-")
            for status, m in instances["byStatus"].items() if m["count"] or status in policy]
    lines.append(table(("STATUS", "COUNT", "STORED", "RETENTION", "EXPIRED"), rows)
                 if rows else "no instances")
    if report["largest"]:
        lines += ["", table(
            ("LARGEST", "NAME", "STATUS", "EVENTS", "STORED"),
            [(r["instanceID"], r["name"], r["runtimeStatus"], r["historyLength"],
              size(r["storedBytes"])) for r in report["largest"]])]
    sweep = retention["lastSweep"]
    if sweep is not None:
        lines += ["", f"last sweep: purged {sweep['purged']}"
                      f" ({size(sweep['purgedBytes'])}), archived {sweep['archived']},"
                      f" gave back {sweep['reclaimedPages']} pages"]
    return "\n".join(lines)


def _limit(seconds: float | None) -> str:
    if seconds is None:
        return "keep"
    for unit, span in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= span and seconds % span == 0:
            return f"{int(seconds // span)}{unit}"
    return f"{seconds:g}s"
