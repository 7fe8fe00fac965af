"""Bulk ``purge`` and ``terminate`` by filter: the dry run, the confirmation prompt (and
declining it), ``--yes``, and that only what the filters select is touched."""

from __future__ import annotations

import re

import pytest

from tests.cli._operator import Operator


@pytest.fixture
async def mixed(op: Operator) -> Operator:
    """c-1, c-2 COMPLETED, f-1 FAILED, r-1 and r-2 RUNNING; no worker connected."""
    await op.started("c-1", end="COMPLETED", output={"ok": True})
    await op.started("c-2", end="COMPLETED")
    await op.started("f-1", end="FAILED", failure="boom")
    await op.started("r-1")
    await op.started("r-2", "ShipWorkflow")
    op.disconnect_worker()
    return op


async def ids(op: Operator) -> list[str]:
    return sorted(i["instanceID"] for i in (await op.call("list")).instances)


async def test_purge_all_dry_run_counts_and_changes_nothing(mixed: Operator) -> None:
    result = await mixed.cli("purge", "--all", "--dry-run")
    assert result.exit_code == 0, result.output
    match = re.fullmatch(r"Would purge 3 finished instance\(s\), (\d+) B stored\n",
                         result.stdout)
    assert match, result.stdout
    stored = sum(i["storedBytes"] for i in (await mixed.call("list")).instances
                 if i["runtimeStatus"] in ("COMPLETED", "FAILED"))
    assert int(match.group(1)) == stored
    assert await ids(mixed) == ["c-1", "c-2", "f-1", "r-1", "r-2"]


async def test_purge_asks_first_and_declining_changes_nothing(mixed: Operator) -> None:
    declined = await mixed.cli("purge", "--all", "-s", "FAILED", input="n\n")
    assert declined.exit_code == 1
    assert re.search(r"Purge 1 finished instance\(s\), \d+ B stored\? This cannot be undone "
                     r"\[y/N\]: ", declined.stderr)
    assert "Aborted" in declined.stderr
    # No terminal to answer on (a script without --yes) declines as well.
    assert (await mixed.cli("purge", "--all")).exit_code == 1
    assert await ids(mixed) == ["c-1", "c-2", "f-1", "r-1", "r-2"]

    confirmed = await mixed.cli("purge", "--all", "--all-filter-status", "FAILED",
                                input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert re.fullmatch(r"Purged 1 of 1 matching workflow instance\(s\) \(\d+ B\)\n",
                        confirmed.stdout)
    assert await ids(mixed) == ["c-1", "c-2", "r-1", "r-2"]


async def test_purge_all_yes_takes_finished_instances_only(mixed: Operator) -> None:
    nothing = await mixed.cli("purge", "--all-older-than", "1h", "--yes")
    assert nothing.stdout == "No finished workflow instances match: nothing to purge\n"
    result = await mixed.cli("purge", "--all", "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Purged 3 of 3 matching workflow instance(s)")
    assert await ids(mixed) == ["r-1", "r-2"]


async def test_terminate_all_by_filter(mixed: Operator) -> None:
    dry = await mixed.cli("terminate", "--all", "--dry-run")
    assert dry.stdout.startswith("Would terminate 2 unfinished instance(s), ")
    result = await mixed.cli("terminate", "--all", "-w", "ShipWorkflow", "-y")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Terminated 1 of 1 matching workflow instance(s)")
    # The worker runs the terminate turn when it comes back.
    await mixed.turn("r-2", end="TERMINATED")
    await mixed.wait_status("r-2", "TERMINATED")
    assert (await mixed.call("get", "r-1"))["runtimeStatus"] == "RUNNING"


async def test_a_terminal_sees_the_progress_bar(mixed: Operator) -> None:
    # TTY_COMPATIBLE makes rich treat the captured stderr as a terminal, as a shell's is.
    result = await mixed.cli("purge", "--all", "-w", "OrderWorkflow", "--yes",
                             env={"TTY_COMPATIBLE": "1"})
    assert result.exit_code == 0, result.output
    assert "Purging 3 instance(s)" in result.stderr
    assert result.stdout.startswith("Purged 3 of 3 matching workflow instance(s)")
