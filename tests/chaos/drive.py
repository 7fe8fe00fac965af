"""Driving one chaos instance from start to its end, through restarts.

``drive`` starts instance ``n``, does what its kind asks (``workload.Drive``), waits for
it to end, and returns what the API reports. Every step goes through ``ChaosClient``,
which retries across daemon restarts, so a kill at any moment only delays a driver.
Problems it sees on the way (an instance that completed while suspended, a purged one
that is still readable) are collected rather than raised, so one run reports them all.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

from tests.chaos.client import STATUS_NAMES, ChaosClient
from tests.chaos.workload import KINDS, Drive, Expected, Kind, kind_of


@dataclass
class Outcome:
    instance_id: str
    expected: Expected
    status: str | None = None
    raw_output: str | None = None
    purged: bool = False
    problems: list[str] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)

    @property
    def output(self) -> object:
        return None if self.raw_output is None else json.loads(self.raw_output)

    async def record(self, client: ChaosClient) -> None:
        state = await client.wait_terminal(self.instance_id)
        self.status = STATUS_NAMES[state.orchestrationStatus]
        self.raw_output = state.output.value if state.HasField("output") else None


@dataclass
class Child:
    instance_id: str
    expected: Expected

    async def fetch(self, client: ChaosClient) -> Outcome:
        outcome = Outcome(self.instance_id, self.expected)
        state = await client.get(self.instance_id)
        if state is not None:
            outcome.status = STATUS_NAMES[state.orchestrationStatus]
            outcome.raw_output = state.output.value if state.HasField("output") else None
        return outcome


async def wait_status(client: ChaosClient, instance_id: str, wanted: str,
                      patience: float = 120) -> bool:
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        if await client.status(instance_id) == wanted:
            return True
        await asyncio.sleep(0.05)
    return False


async def drive(client: ChaosClient, instance_id: str, n: int, luck: float,
                kinds: tuple[Kind, ...] = KINDS) -> Outcome:
    """Run instance ``n`` through its kind's script; ``luck`` in [0, 1) varies timing."""
    kind = kind_of(n, kinds)
    outcome = Outcome(instance_id, kind.expected(instance_id, n))
    outcome.children = [Child(i, e) for i, e in outcome.expected.children]
    await client.start(instance_id, kind.workflow, kind.input(n))
    match kind.drive:
        case Drive.RAISE:  # sometimes before the first turn has even run
            await asyncio.sleep(luck)
            await client.raise_event(instance_id, "go", kind.payload(n))
        case Drive.SUSPEND:
            await suspended_event(client, outcome, kind.payload(n))
        case Drive.TERMINATE:
            if not await wait_status(client, instance_id, "RUNNING"):
                outcome.problems.append(f"{instance_id}: never RUNNING before terminate")
            await client.terminate(instance_id)
    await outcome.record(client)
    if kind.drive is Drive.PURGE:
        await purge(client, outcome)
    return outcome


async def suspended_event(client: ChaosClient, outcome: Outcome, payload: int) -> None:
    """Suspend, raise the awaited event, check it stays suspended, resume."""
    instance_id = outcome.instance_id
    if not await wait_status(client, instance_id, "RUNNING"):
        outcome.problems.append(f"{instance_id}: never RUNNING before suspend")
    await client.suspend(instance_id)
    if not await wait_status(client, instance_id, "SUSPENDED"):
        outcome.problems.append(f"{instance_id}: suspend never took effect")
    await client.raise_event(instance_id, "go", payload)
    await asyncio.sleep(0.3)
    status = await client.status(instance_id)
    if status != "SUSPENDED":
        outcome.problems.append(f"{instance_id}: {status} after an event while suspended")
    await client.resume(instance_id)


async def purge(client: ChaosClient, outcome: Outcome) -> None:
    await client.purge(outcome.instance_id)
    outcome.purged = True
    if await client.get(outcome.instance_id) is not None:
        outcome.problems.append(f"{outcome.instance_id}: still readable after purge")
