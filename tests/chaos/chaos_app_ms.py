"""The chaos harness's worker for the Microsoft dialect: a plain ``durabletask`` app (runs in
the ``durabletask-112`` venv) with the same workflows as ``chaos_app.py`` plus a durable
entity.

  chaos_app_ms.py     run the worker until killed

Activities log ``<workflow id> <input as JSON>`` to $ACTIVITY_LOG exactly as the Dapr app
does. The ``tally`` workflow adds to a ``counter`` entity three times and returns what the
entity reports, so an entity operation applied twice (or lost) across a kill shows up as
a wrong output. Change the bodies together with ``workload.py``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Generator
from datetime import timedelta
from typing import Any

from durabletask import entities, task
from durabletask.entities import EntityInstanceId
from durabletask.worker import TaskHubGrpcWorker

LOG_FD = os.open(os.environ["ACTIVITY_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
Gen = Generator[Any, Any, Any]


def inc(ctx: task.ActivityContext, value: int) -> int:
    time.sleep(0.01)  # long enough for a kill to land while activities are in flight
    os.write(LOG_FD, f"{ctx.orchestration_id} {json.dumps(value)}\n".encode())
    return value + 1


def chain(ctx: task.OrchestrationContext, value: int) -> Gen:
    for _ in range(3):
        value = yield ctx.call_activity(inc, input=value)
    return value


def fanout(ctx: task.OrchestrationContext, value: int) -> Gen:
    results = yield task.when_all([ctx.call_activity(inc, input=value + i) for i in range(5)])
    return sum(results)


def timer(ctx: task.OrchestrationContext, value: int) -> Gen:
    yield ctx.create_timer(timedelta(seconds=1 + value % 3))
    return (yield ctx.call_activity(inc, input=value))


def parent(ctx: task.OrchestrationContext, value: int) -> Gen:
    result = yield ctx.call_sub_orchestrator(chain, input=value,
                                             instance_id=f"{ctx.instance_id}-child")
    return result + 1


def event(ctx: task.OrchestrationContext, value: int) -> Gen:
    payload = yield ctx.wait_for_external_event("go")
    return payload + value


def relay(ctx: task.OrchestrationContext, state: list[int]) -> Gen:
    value, generation = state
    if generation == 3:
        return value
    value = yield ctx.call_activity(inc, input=value)
    ctx.continue_as_new([value, generation + 1])
    return None


def hold(ctx: task.OrchestrationContext, value: int) -> Gen:
    payload = yield ctx.wait_for_external_event("go")
    return (yield ctx.call_activity(inc, input=payload + value))


def forever(ctx: task.OrchestrationContext, value: int) -> Gen:
    yield ctx.wait_for_external_event("never")
    return value


def tally(ctx: task.OrchestrationContext, value: int) -> Gen:
    counter_id = EntityInstanceId("counter", ctx.instance_id)
    yield ctx.call_entity(counter_id, "add", value)
    yield ctx.call_entity(counter_id, "add", 1)
    return (yield ctx.call_entity(counter_id, "add", 1))


def counter(ctx: entities.EntityContext, amount: int) -> int:
    if ctx.operation != "add":
        raise ValueError(f"unknown operation {ctx.operation}")
    total = ctx.get_state(int, 0) + amount
    ctx.set_state(total)
    return total


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    worker = TaskHubGrpcWorker(host_address=os.environ["DURABLETASK_ENDPOINT"],
                               logger=logging.getLogger("chaos-worker"))
    for orchestrator in (chain, fanout, timer, parent, event, relay, hold, forever, tally):
        worker.add_orchestrator(orchestrator)
    worker.add_activity(inc)
    worker.add_entity(counter)
    worker.start()
    print("WORKING", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
