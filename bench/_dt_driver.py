"""Drives one sidecar with Microsoft's ``durabletask`` 1.12 worker and async client.

Runs in the ``durabletask-112`` virtualenv (bench/compare.py starts it):
``_dt_driver.py HOST:PORT MODE COUNT CONCURRENCY SIDECAR_PID WARMUP`` with MODE ``seq3``
(three sequential activities), ``fan10`` (ten parallel activities, then a join) or
``long500`` (500 sequential activities; its warm-up runs seq3). After WARMUP workflows,
which are not counted, it runs COUNT workflows with at most CONCURRENCY started and
unfinished (start, then wait for completion), and prints one JSON line: wall seconds,
latency p50/p99 (start to completion seen by the client), and the CPU seconds the sidecar
(read from /proc/SIDECAR_PID/stat) and this process spent over the counted part; for
``long500`` also the mean time per step over the first and the last ten steps (between
the starts of consecutive activities: a result's way back, the replay of a history that
grows, the next activity's way out).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time

from _probe import closed_loop
from durabletask import client, task, worker


def step(ctx: task.ActivityContext, x: int) -> int:
    return x + 1


def seq3(ctx: task.OrchestrationContext, x: int):  # type: ignore[no-untyped-def]
    a = yield ctx.call_activity(step, input=x)
    b = yield ctx.call_activity(step, input=a)
    return (yield ctx.call_activity(step, input=b))


def fan10(ctx: task.OrchestrationContext, x: int):  # type: ignore[no-untyped-def]
    results = yield task.when_all([ctx.call_activity(step, input=x + i) for i in range(10)])
    return sum(results)


LONG_STEPS = 500
STAMPS: list[float] = []  # when each long_seq activity started (worker threads append)


def stamp(ctx: task.ActivityContext, x: int) -> int:
    STAMPS.append(time.perf_counter())
    return x + 1


def long_seq(ctx: task.OrchestrationContext, n: int):  # type: ignore[no-untyped-def]
    x = 0
    for _ in range(n):
        x = yield ctx.call_activity(stamp, input=x)
    return x


def step_times(stamps: list[float]) -> dict[str, float]:
    steps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    first, last = steps[:10], steps[-10:]
    return {"first_step_ms": sum(first) * 1000 / len(first),
            "last_step_ms": sum(last) * 1000 / len(last)}


async def drive(address: str, mode: str, count: int, concurrency: int, pid: int,
                warmup: int) -> dict[str, float]:
    long = mode == "long500"
    orchestrator = {"seq3": seq3, "fan10": fan10, "long500": long_seq}[mode]
    tasks = client.AsyncTaskHubGrpcClient(host_address=address)

    async def run(i: int, counted: bool) -> None:
        chosen = orchestrator if counted or not long else seq3  # long-seq warms up on seq3
        instance_id = await tasks.schedule_new_orchestration(
            chosen, input=LONG_STEPS if chosen is long_seq else i)
        state = await tasks.wait_for_orchestration_completion(instance_id, timeout=300)
        if state is None or state.runtime_status != client.OrchestrationStatus.COMPLETED:
            raise SystemExit(f"{instance_id} did not complete: {state}")

    result = await closed_loop(run, count, concurrency, pid, warmup)
    return {**result, **(step_times(sorted(STAMPS)) if long else {})}


def main() -> None:
    logging.disable(logging.CRITICAL)
    address, mode = sys.argv[1], sys.argv[2]
    count, concurrency, pid, warmup = (int(a) for a in sys.argv[3:7])
    runner = worker.TaskHubGrpcWorker(host_address=address)
    runner.add_orchestrator(seq3)
    runner.add_orchestrator(fan10)
    runner.add_orchestrator(long_seq)
    runner.add_activity(step)
    runner.add_activity(stamp)
    runner.start()
    try:
        result = asyncio.run(drive(address, mode, count, concurrency, pid, warmup))
    finally:
        runner.stop()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
