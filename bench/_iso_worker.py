"""Sidecar-only capacity: a synthetic worker that answers every work item at once.

Runs in the ``durabletask-112`` virtualenv (bench/compare.py starts it), with the arguments
and the JSON line of bench/_dt_driver.py: ``_iso_worker.py HOST:PORT MODE COUNT CONCURRENCY
SIDECAR_PID WARMUP``. MODE ``fan10``: a workflow's first turn schedules ten activities at
once and the turn that sees all ten completed completes it; ``one``: the same with a single
activity. It speaks Microsoft's dialect with durabletask 1.12's generated messages over raw
grpc.aio (one GetWorkItems stream, unary completions sent without waiting for each other),
so there is no SDK replay: what is timed is the sidecar. The constant part of every answer
(the actions, an activity's result) is serialized once; per work item only the instance id,
task id and completion token are encoded and appended (concatenated protobuf messages merge).

The client is in this process: at most CONCURRENCY workflows started and not yet completed;
a workflow counts as completed when the sidecar acknowledged the turn that completes it, and
its latency runs from the start call to that acknowledgement. uvloop is used if the
virtualenv has it (durabletask 1.12 does not bring it), else asyncio's own loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import grpc
from _probe import cpu_seconds, own_cpu_seconds, percentile_ms
from durabletask.internal import orchestrator_service_pb2 as pb

SERVICE = "/TaskHubSidecarService/"
FAN_OUT = {"fan10": 10, "one": 1}
TIMEOUT_S = 600


def prebuilt_schedule(fan: int) -> bytes:
    """The first turn's answer without instance id and token: ``fan`` activities at once."""
    res = pb.OrchestratorResponse()
    for i in range(fan):
        action = res.actions.add(id=i)
        action.scheduleTask.name = "step"
        action.scheduleTask.input.value = str(i)
    return bytes(res.SerializeToString())


def prebuilt_complete(fan: int) -> bytes:
    res = pb.OrchestratorResponse()
    action = res.actions.add(id=fan)
    action.completeOrchestration.orchestrationStatus = pb.ORCHESTRATION_STATUS_COMPLETED
    action.completeOrchestration.result.value = str(fan)
    return bytes(res.SerializeToString())


ACTIVITY_RESULT = bytes(pb.ActivityResponse(result={"value": "1"}).SerializeToString())


def turn_kind(req: Any, fan: int) -> str:
    """``schedule`` on the first turn, ``complete`` once all activities completed, else
    ``wait`` (some completions are still to come: the answer holds no action)."""
    done = sum(1 for e in req.pastEvents if e.HasField("taskCompleted"))
    done += sum(1 for e in req.newEvents if e.HasField("taskCompleted"))
    if done >= fan:
        return "complete"
    if done == 0 and not any(e.HasField("taskScheduled") for e in req.pastEvents):
        return "schedule"
    return "wait"


async def run(address: str, mode: str, count: int, concurrency: int, pid: int,
              warmup: int) -> dict[str, float]:
    fan = FAN_OUT[mode]
    answers = {"schedule": prebuilt_schedule(fan), "complete": prebuilt_complete(fan),
               "wait": b""}
    channel = grpc.aio.insecure_channel(address, options=[
        ("grpc.max_receive_message_length", 64 << 20)])

    def unary(method: str) -> Callable[[bytes], Any]:
        # Requests go out as the bytes built here; answers are not needed, only their arrival.
        return channel.unary_unary(SERVICE + method, request_serializer=bytes,
                                   response_deserializer=None)

    start, complete_turn = unary("StartInstance"), unary("CompleteOrchestratorTask")
    complete_activity = unary("CompleteActivityTask")
    waiting: dict[str, asyncio.Future[None]] = {}
    in_flight: set[asyncio.Future[Any]] = set()

    def fail_all(error: BaseException) -> None:
        for fut in waiting.values():
            if not fut.done():
                fut.set_exception(error)

    def sent(call: Any, finished: str | None) -> None:
        fut = asyncio.ensure_future(call)
        in_flight.add(fut)

        def acknowledged(f: asyncio.Future[Any]) -> None:
            in_flight.discard(f)
            if f.cancelled():
                return
            if f.exception() is not None:
                fail_all(RuntimeError(f"a completion was refused: {f.exception()}"))
            elif finished is not None and finished in waiting and not waiting[finished].done():
                waiting[finished].set_result(None)
        fut.add_done_callback(acknowledged)

    stream = channel.unary_stream(SERVICE + "GetWorkItems", request_serializer=bytes,
                                  response_deserializer=pb.WorkItem.FromString)(
        pb.GetWorkItemsRequest().SerializeToString())

    async def serve() -> None:
        async for item in stream:
            kind = item.WhichOneof("request")
            if kind == "orchestratorRequest":
                req = item.orchestratorRequest
                answer = turn_kind(req, fan)
                head = pb.OrchestratorResponse(instanceId=req.instanceId,
                                               completionToken=item.completionToken)
                sent(complete_turn(answers[answer] + head.SerializeToString()),
                     req.instanceId if answer == "complete" else None)
            elif kind == "activityRequest":
                act = item.activityRequest
                head_a = pb.ActivityResponse(instanceId=act.orchestrationInstance.instanceId,
                                             taskId=act.taskId,
                                             completionToken=item.completionToken)
                sent(complete_activity(ACTIVITY_RESULT + head_a.SerializeToString()), None)
        fail_all(RuntimeError("the work-item stream ended"))

    worker = asyncio.ensure_future(serve())
    worker.add_done_callback(
        lambda w: None if w.cancelled() or w.exception() is None else fail_all(w.exception()))
    slots = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(instance_id: str) -> None:
        async with slots:
            completed = waiting[instance_id] = asyncio.get_running_loop().create_future()
            began = time.perf_counter()
            try:
                await start(pb.CreateInstanceRequest(instanceId=instance_id,
                                                     name="iso").SerializeToString())
                await completed
            finally:
                waiting.pop(instance_id, None)
            latencies.append(time.perf_counter() - began)

    async def batch(prefix: str, n: int) -> None:
        await asyncio.wait_for(asyncio.gather(*(one(f"{prefix}-{i}") for i in range(n))),
                               TIMEOUT_S)

    run_id = f"{os.getpid()}-{time.time_ns()}"  # instance ids unique on a reused sidecar too
    await batch(f"warm-{run_id}", warmup)
    latencies.clear()
    sidecar0, own0, began = cpu_seconds(pid), own_cpu_seconds(), time.perf_counter()
    await batch(f"iso-{mode}-{run_id}", count)
    seconds = time.perf_counter() - began
    sidecar_cpu, app_cpu = cpu_seconds(pid) - sidecar0, own_cpu_seconds() - own0
    stream.cancel()
    worker.cancel()
    await channel.close()
    return {"workflows": count, "seconds": seconds, "p50_ms": percentile_ms(latencies, 0.5),
            "p99_ms": percentile_ms(latencies, 0.99), "sidecar_cpu_s": sidecar_cpu,
            "app_cpu_s": app_cpu}


def main() -> None:
    logging.disable(logging.CRITICAL)
    address, mode = sys.argv[1], sys.argv[2]
    count, concurrency, pid, warmup = (int(a) for a in sys.argv[3:7])
    try:
        import uvloop  # type: ignore[import-not-found]
    except ImportError:
        uvloop = None
    runner = asyncio.run if uvloop is None else uvloop.run
    result = runner(run(address, mode, count, concurrency, pid, warmup))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
