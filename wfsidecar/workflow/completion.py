"""The two halves of a workflow turn around the worker: its request, and applying its answer.

``orchestrator_request`` serializes what the worker is shown. In ``apply_completion``, the
second half (engine.md §2), the engine folds the worker's actions into history and an
outbox, and the outbox becomes effects written in the same transaction as the new state
(``effects``), so nothing is sent before the commit. The
``WorkflowActor`` checks that the answer is for its current dispatch and re-arms ``run``
afterwards; everything between lives here.
"""

from __future__ import annotations

import uuid

from wfsidecar import engine
from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.actors import TurnContext
from wfsidecar.engine import rewind
from wfsidecar.workflow import effects, projection, request_wire
from wfsidecar.workflow.state import WorkflowState


def orchestrator_request(instance_id: str, state: WorkflowState,
                         turn: engine.TurnInput) -> tuple[bytes, list[bytes], str, str]:
    """The OrchestratorRequest for ``turn`` as its head and the framed past events
    (request_wire.py), with its orchestration's name and version (for work-item filters).

    ``turn.past`` is ``state.history`` unless old redundant suspends were filtered out of
    it; only then are its events framed on their own.
    """
    view = projection.view(instance_id, state)
    execution_id = view.execution_id if view else ""
    request = engine.build_orchestrator_request(instance_id, execution_id, turn,
                                                with_past=False)
    if state.trace:
        request.orchestrationTraceContext.ParseFromString(state.trace)
    past = state.encoded_history()[1]
    if len(turn.past) != len(state.history):
        past = [request_wire.past_event(e.SerializeToString()) for e in turn.past]
    name, version = (view.name, view.version or "") if view else ("", "")
    return request.SerializeToString(), past, name, version


def apply_completion(ctx: TurnContext, instance_id: str, state: WorkflowState,
                     turn: engine.TurnInput, consumed: int, response_bytes: bytes) -> bool:
    """Fold the response to ``turn`` into ``state`` and save it with the turn's effects;
    True if the execution goes on (it neither ended nor continued as new).

    ``consumed`` is how many inbox events the dispatched turn covered; events that arrived
    after the dispatch stay queued behind what the response itself queues (a replay turn
    after a rewind, the first events of a continued-as-new generation).
    """
    response = pb.OrchestratorResponse.FromString(response_bytes)
    result = engine.apply_response(instance_id, turn, response, ctx.now_ms,
                                   new_execution_id=lambda: uuid.uuid4().hex)
    before = state.copy()
    covered = state.inbox[:consumed]
    state.inbox = state.inbox[consumed:]
    if result.continued_as_new:
        ended = [*turn.past, *turn.new]
        first = next((e for e in ended if e.HasField("executionStarted")), None)
        if state.first_created_ms is None and first is not None \
                and first.executionStarted.HasField("orchestrationSpanID"):
            # A traced instance's one span starts at its creation (untraced ones keep
            # Dapr's metadata layout exactly).
            state.first_created_ms = first.timestamp.ToMilliseconds()
        state.continued_from = ended  # for the observer (publishing.py)
        state.history = []
        state.generation += 1
        # A replay marker right behind the new start says a running instance goes on
        # here: it reads RUNNING, not PENDING, until the new generation's first turn
        # commits (projection.continued; durabletask-go and Dapr report RUNNING). The
        # start stays first, where the scheduled-start and poison checks look for it.
        started, *carryover = result.next_inbox
        state.inbox = [started, rewind.replay_marker(ctx.now_ms), *carryover, *state.inbox]
    else:
        state.history = list(result.history)
        state.inbox = [*result.next_inbox, *state.inbox]  # rewind: the replay turn
    state.custom_status = result.custom_status
    state.tags.update(result.completion_tags)
    if response.HasField("orchestrationTraceContext"):
        state.trace = response.orchestrationTraceContext.SerializeToString()
    terminal = projection.terminal(instance_id, state)
    if terminal:
        state.inbox = []  # events for a finished instance are dropped (protocol.md §5.2)
    effects.release_consumed_activities(ctx, instance_id, before.generation, covered)
    effects.apply_outbox(ctx, instance_id, result.view.execution_id, state.generation,
                         result.outbox, state.dialect)
    if result.continued_as_new:
        effects.drop_pending_timers(ctx, before.generation, [*before.history,
                                                             *result.history])
    elif terminal:
        effects.drop_pending_timers(ctx, state.generation, state.history)
    state.save(ctx, before)
    return not (terminal or result.continued_as_new)
