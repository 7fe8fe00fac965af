"""JSON log lines inside a turn or an RPC carry the instance id and trace id (issue #12
item 4): the actor runtime binds a turn's instance, the gRPC interceptor and the HTTP
middleware bind the instance (and the caller's trace) a request names, and a workflow's
trace id is remembered by instance."""

from __future__ import annotations

import json
import logging

from tests.fakes import FakeClock
from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.actors import ActorRuntime, ReminderResult, TurnContext
from wfsidecar.logs import JsonFormatter
from wfsidecar.server import observed
from wfsidecar.store.memory import MemoryStore
from wfsidecar.telemetry import log_context
from wfsidecar.types import ActorRef

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
log = logging.getLogger("wfsidecar.test.log_context")


def line(message: str) -> dict[str, object]:
    record = log.makeRecord(log.name, logging.INFO, __file__, 1, message, (), None)
    parsed: dict[str, object] = json.loads(JsonFormatter().format(record))
    return parsed


class Logger:
    def __init__(self, ref: ActorRef) -> None:
        self.ref = ref
        self.lines: list[dict[str, object]] = []

    async def on_invoke(self, ctx: TurnContext, method: str, payload: object) -> object:
        self.lines.append(line("in a turn"))
        return None

    async def on_reminder(self, ctx: TurnContext, name: str, data: bytes) -> ReminderResult:
        return ReminderResult.DONE


def test_bound_lines_name_instance_and_remembered_trace() -> None:
    assert "instance_id" not in line("outside")
    log_context.remember("wf-1", TRACE)
    with log_context.bound("wf-1"):
        inside = line("inside")
        with log_context.bound("other", "1" * 32):
            nested = line("nested")
    assert (inside["instance_id"], inside["trace_id"]) == ("wf-1", TRACE)
    assert (nested["instance_id"], nested["trace_id"]) == ("other", "1" * 32)
    assert "instance_id" not in line("after")
    log_context.remember("wf-1", None)
    with log_context.bound("wf-1"):
        assert "trace_id" not in line("forgotten")


async def test_turns_bind_the_instance_of_their_actor() -> None:
    runtime = ActorRuntime(MemoryStore(), FakeClock(), idle_timeout=600)
    actors: dict[str, Logger] = {}

    def factory(ref: ActorRef, host: object) -> Logger:
        actors[ref.id] = Logger(ref)
        return actors[ref.id]

    runtime.register("workflow", factory)
    runtime.register("activity", factory, instance_of=lambda actor_id: actor_id.split("#")[0])
    log_context.remember("wf-2", TRACE)
    await runtime.invoke(ActorRef("workflow", "wf-2"), "go")
    await runtime.invoke(ActorRef("activity", "wf-2#3"), "go")
    for actor in actors.values():
        (seen,) = actor.lines
        assert (seen["instance_id"], seen["trace_id"]) == ("wf-2", TRACE)
    log_context.remember("wf-2", None)


def test_an_rpc_binds_the_instance_and_the_trace_it_carries() -> None:
    request = pb.CreateInstanceRequest(instanceId="wf-3", name="Flow")
    request.parentTraceContext.traceParent = f"00-{TRACE}-b7ad6b7169203331-01"
    with observed._log_context(request):
        seen = line("starting")
    assert (seen["instance_id"], seen["trace_id"]) == ("wf-3", TRACE)
    with observed._log_context(pb.GetWorkItemsRequest()):
        assert "instance_id" not in line("stream")
