"""A synthetic Dapr 1.19-style worker for long-seq: the daemon alone, without an SDK's replay.

Usage (from bench/long_seq.py): python bench/synthetic_seq.py PORT STEPS DAEMON_PID [--full]
It speaks TaskHubSidecarService over one GetWorkItems stream, advertising stateful history
(unless ``--full``) and health pings, and answers every work item at once: a workflow turn
schedules the next activity or completes after STEPS of them; an activity returns at once.
It keeps what a real stateful worker keeps — per instance, how many events it holds and how
many of them completed a task — so deltas are honoured, and a delta it cannot honour is an
error. Its own cost per turn does not grow with the history (an SDK replays every event),
so the daemon's CPU per step, read from /proc at every activity, is the daemon's alone.
Prints one JSON object like history_delta_app.py's.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import grpc

from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb

SERVICE = "/TaskHubSidecarService/"
STATEFUL_HISTORY, HEALTH_PING = 2, 3


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def completed_tasks(events: Any) -> int:
    return sum(1 for e in events if e.HasField("taskCompleted"))


async def main() -> None:
    port, steps, pid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    stateful = "--full" not in sys.argv
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=[
        ("grpc.max_receive_message_length", 64 << 20)])

    def unary(method: str, response: Any) -> Any:
        return channel.unary_unary(SERVICE + method, request_serializer=_ser,
                                   response_deserializer=response.FromString)

    start = unary("StartInstance", pb.CreateInstanceResponse)
    complete_orchestrator = unary("CompleteOrchestratorTask", pb.CompleteTaskResponse)
    complete_activity = unary("CompleteActivityTask", pb.CompleteTaskResponse)
    wait = unary("WaitForInstanceCompletion", pb.GetInstanceResponse)
    capabilities = [HEALTH_PING, STATEFUL_HISTORY] if stateful else [HEALTH_PING]
    stream = channel.unary_stream(SERVICE + "GetWorkItems", request_serializer=_ser,
                                  response_deserializer=pb.WorkItem.FromString)(
        pb.GetWorkItemsRequest(capabilities=capabilities))
    held: dict[str, tuple[int, int]] = {}  # instance -> (events held, tasks completed there)
    counts = {"full": 0, "delta": 0, "fetch": 0}
    sizes: list[int] = []
    cached: list[int] = []
    stamps: list[tuple[float, int]] = []

    async def serve() -> None:
        async for item in stream:
            kind = item.WhichOneof("request")
            if kind == "orchestratorRequest":
                req = item.orchestratorRequest
                sizes.append(req.ByteSize())
                if req.HasField("cachedHistory"):
                    have, done = held.get(req.instanceId, (-1, 0))
                    if have != req.cachedHistory.eventCount:
                        raise SystemExit(f"delta for {have} held events: "
                                         f"{req.cachedHistory.eventCount}")
                    counts["delta"] += 1
                    cached.append(have)
                else:
                    have, done = 0, 0
                    counts["full"] += 1
                    cached.append(0)
                past_done = done + completed_tasks(req.pastEvents)
                total = have + len(req.pastEvents)
                finished = past_done + completed_tasks(req.newEvents)
                res = pb.OrchestratorResponse(instanceId=req.instanceId,
                                              completionToken=item.completionToken)
                action = res.actions.add(id=finished)
                if finished < steps:
                    action.scheduleTask.name = "inc"
                    action.scheduleTask.input.value = str(finished)
                    held[req.instanceId] = (total, past_done)
                else:
                    action.completeOrchestration.orchestrationStatus = (
                        pb.ORCHESTRATION_STATUS_COMPLETED)
                    action.completeOrchestration.result.value = str(finished)
                    held.pop(req.instanceId, None)
                await complete_orchestrator(res)
            elif kind == "activityRequest":
                stamps.append((time.perf_counter(), cpu_ticks(pid)))
                act = item.activityRequest
                res_a = pb.ActivityResponse(instanceId=act.orchestrationInstance.instanceId,
                                            taskId=act.taskId,
                                            completionToken=item.completionToken)
                res_a.result.value = str(int(act.input.value) + 1)
                await complete_activity(res_a)

    worker = asyncio.create_task(serve())
    await start(pb.CreateInstanceRequest(instanceId="long-seq", name="long_seq"))
    state = await wait(pb.GetInstanceRequest(instanceId="long-seq",
                                             getInputsAndOutputs=True), timeout=1800)
    stream.cancel()
    worker.cancel()
    await channel.close()
    print(json.dumps({
        "status": pb.OrchestrationStatus.Name(state.orchestrationState.orchestrationStatus)
        .removeprefix("ORCHESTRATION_STATUS_"),
        "output": json.loads(state.orchestrationState.output.value),
        "counts": {"long-seq": counts}, "sizes": sizes, "cached": cached, "stamps": stamps,
    }))


def _ser(message: Any) -> bytes:
    return bytes(message.SerializeToString())


if __name__ == "__main__":
    asyncio.run(main())
