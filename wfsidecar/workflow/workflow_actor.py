"""WorkflowActor: one per workflow instance, the turn algorithm of engine.md §2 made atomic.

Differences from Dapr's actor backend, each closing a class of its reported bugs:
- Every side effect of a turn (activity requests, timers, child starts, events to other
  instances, parent notifications) is written in the turn's own transaction, as state of
  the target actor or as a reminder on it. Nothing is sent before the commit, so a crash
  can neither lose nor duplicate an effect (engine.md §2.1 "side effects before commit").
- The actor does not hold its turn while the app's worker runs the orchestrator: the
  dispatch is handed to the WorkItemDispatcher and the ``run`` reminder is parked. Events
  keep arriving in the inbox meanwhile; the worker's answer is applied by a later turn.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from wfsidecar import engine
from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.actors import ActorHost, ReminderResult, TurnContext
from wfsidecar.errors import AlreadyExistsError, FailedPreconditionError, NotFoundError
from wfsidecar.telemetry.observer import NULL, Observer
from wfsidecar.types import ActorRef
from wfsidecar.workflow import effects, poison, projection
from wfsidecar.workflow.completion import apply_completion, orchestrator_request
from wfsidecar.workflow.dispatch import WorkItem, WorkItemDispatcher
from wfsidecar.workflow.history_marks import Lineage
from wfsidecar.workflow.messages import (
    ActivityResult,
    CloneCommand,
    Completion,
    CreateCommand,
    PurgeCommand,
    PurgeOutcome,
)
from wfsidecar.workflow.publishing import ChangeListener, Publisher
from wfsidecar.workflow.state import WORKFLOW_ACTOR, WorkflowState

logger = logging.getLogger(__name__)

RUN = "run"


@dataclass(slots=True)
class _Dispatch:
    item: WorkItem
    turn: engine.TurnInput
    consumed: int  # inbox events this dispatch covers


class WorkflowActor:
    def __init__(self, ref: ActorRef, host: ActorHost, dispatcher: WorkItemDispatcher,
                 on_change: ChangeListener, observer: Observer = NULL) -> None:
        self.ref = ref
        self.instance_id = ref.id
        self._host = host
        self._dispatcher = dispatcher
        self._publisher = Publisher(ref.id, on_change, observer)
        self._state: WorkflowState | None = None
        self._dispatch: _Dispatch | None = None
        self._lineage = Lineage()  # a rebuilt or reloaded actor starts a new one

    def on_discard(self) -> None:
        """Thrown away after a failed turn: the rebuilt actor dispatches the turn anew."""
        self._drop_dispatch()

    def _drop_dispatch(self) -> None:
        if self._dispatch is not None:
            self._dispatch.item.superseded = True
            self._dispatch = None

    # -- calls -------------------------------------------------------------------------

    async def on_invoke(self, ctx: TurnContext, method: str, payload: object) -> object:
        state = self._load(ctx)
        if method == "snapshot":
            return projection.snapshot(self.instance_id, state)
        if method == "reindex":  # read_model.backfill
            self._publish(ctx, state)
            return None
        if method == "create":
            assert isinstance(payload, CreateCommand)
            self._create(ctx, state, payload)
            return None
        if method == "clone":
            assert isinstance(payload, CloneCommand)
            self._clone(ctx, state, payload)
            return None
        if method == "add_event":
            assert isinstance(payload, pb.HistoryEvent)
            if not state.exists:
                raise NotFoundError(f"no workflow instance with ID '{self.instance_id}'")
            self._accept(ctx, state, payload)
            return None
        if method == "complete":
            assert isinstance(payload, Completion)
            self._complete(ctx, state, payload)
            return None
        if method == "activity_result":
            assert isinstance(payload, ActivityResult)
            self._activity_result(ctx, state, payload)
            return None
        if method == "purge":
            assert isinstance(payload, PurgeCommand)
            return self._purge(ctx, state, payload)
        if method in ("poisoned", "stall"):
            self._poisoned(ctx, state, method, payload)
            return None
        raise NotFoundError(f"workflow actor has no method {method!r}")

    async def on_reminder(self, ctx: TurnContext, name: str, data: bytes) -> ReminderResult:
        state = self._load(ctx)
        if name == RUN:
            return self._run(ctx, state)
        if name.startswith("timer-"):
            if state.exists and effects.timer_generation(name) == state.generation:
                self._accept(ctx, state, pb.HistoryEvent.FromString(data))
            return ReminderResult.DONE
        if name.startswith("evt-"):
            event = effects.purged_child_start(state, pb.HistoryEvent.FromString(data),
                                               ctx.now_ms)
            dialect, tag = effects.read_event_reminder(name)
            if event.HasField("executionStarted"):
                self._create_child(ctx, state, event, dialect)
            elif state.exists and effects.addressed_here(self.instance_id, state, tag):
                self._accept(ctx, state, event)
            elif state.exists:
                logger.info("workflow %s: result for an earlier execution dropped (%s)",
                            self.instance_id, name)
            return ReminderResult.DONE
        if name.startswith("purge-"):  # sent by a daemon that does not own it (remote.py)
            try:
                self._purge(ctx, state, PurgeCommand(force=data == b"force"))
            except FailedPreconditionError as exc:
                logger.info("workflow %s: purge dropped: %s", self.instance_id, exc)
            return ReminderResult.DONE
        logger.warning("workflow %s: unknown reminder %s dropped", self.instance_id, name)
        return ReminderResult.DONE

    # -- state ---------------------------------------------------------------------

    def _load(self, ctx: TurnContext) -> WorkflowState:
        if self._state is None:
            self._state = WorkflowState.load(ctx)
            self._publisher.loaded(self._state)
        return self._state

    def _publish(self, ctx: TurnContext, state: WorkflowState) -> None:
        """The summary changed (publishing.py: the index row, waiters, telemetry)."""
        self._publisher.publish(ctx, state)

    # -- create / accept ---------------------------------------------------------------

    def _create(self, ctx: TurnContext, state: WorkflowState, cmd: CreateCommand) -> None:
        if state.exists:
            view = projection.view(self.instance_id, state)
            terminal = view is not None and view.status in engine.TERMINAL
            if cmd.replaceable is not None:
                # Microsoft reuse policy: a listed status is replaced even while running
                # (the old run is abandoned: its late results carry an old generation).
                replace_it = view is not None and int(view.status) in cmd.replaceable
            else:
                replace_it = terminal and not cmd.enforce_unique
            if not replace_it:
                kind = "an active" if not terminal else "a"
                raise AlreadyExistsError(
                    f"{kind} workflow with ID '{self.instance_id}' already exists")
        before = state.copy()
        self._reset(ctx, state)
        state.dialect = cmd.dialect
        state.inbox = [cmd.started]
        state.save(ctx, before)
        due = max(cmd.start_at_ms or 0, ctx.now_ms)
        ctx.set_reminder(RUN, due_ms=due)
        self._publish(ctx, state)

    def _clone(self, ctx: TurnContext, state: WorkflowState, cmd: CloneCommand) -> None:
        if state.exists:
            raise AlreadyExistsError(f"a workflow with ID '{self.instance_id}' already exists")
        before = state.copy()
        self._reset(ctx, state)
        state.inbox = list(cmd.inbox)
        state.save(ctx, before)
        ctx.set_reminder(RUN, due_ms=ctx.now_ms)
        self._publish(ctx, state)

    def _create_child(self, ctx: TurnContext, state: WorkflowState,
                      started: pb.HistoryEvent, dialect: str) -> None:
        if state.exists and projection.same_creation(state, started):
            # This generation came from this very message, even if it has finished since:
            # a re-sent start must not run the child again nor report to the parent twice
            # (engine.md §7 hazard 15).
            logger.info("child workflow %s: duplicate create dropped", self.instance_id)
            return
        if state.exists and not projection.terminal(self.instance_id, state):
            logger.warning("child workflow %s already running; create dropped", self.instance_id)
            return
        self._create(ctx, state, CreateCommand(started, None, dialect=dialect))

    def _reset(self, ctx: TurnContext, state: WorkflowState) -> None:
        effects.drop_pending_timers(ctx, state.generation, state.history)
        state.inbox, state.history, state.custom_status = [], [], None
        state.trace, state.tags, state.first_created_ms = None, {}, None
        state.generation += 1
        self._drop_dispatch()

    def _accept(self, ctx: TurnContext, state: WorkflowState, event: pb.HistoryEvent) -> None:
        """Queue an event for the next turn (dropped once the instance is terminal, except
        a rewind of a failed instance)."""
        reopening = event.HasField("executionRewound") and state.facts().failed
        if projection.terminal(self.instance_id, state) and not reopening:
            return
        before = state.copy()
        state.inbox.append(event)
        state.save(ctx, before)
        if reopening:
            self._publish(ctx, state)  # reads RUNNING again at once (projection.view)
        if not projection.waiting_for_scheduled_start(state, ctx.now_ms):
            ctx.set_reminder(RUN, due_ms=ctx.now_ms)

    # -- turns ---------------------------------------------------------------------

    def _run(self, ctx: TurnContext, state: WorkflowState) -> ReminderResult:
        if self._dispatch is not None:
            return ReminderResult.PARK  # the worker's answer will re-arm it
        if not state.exists or not state.inbox:
            return ReminderResult.DONE
        if projection.waiting_for_scheduled_start(state, ctx.now_ms):
            when = state.inbox[0].executionStarted.scheduledStartTimestamp.ToMilliseconds()
            ctx.set_reminder(RUN, due_ms=when)
            return ReminderResult.DONE
        turn = engine.begin_turn(state.history, state.inbox, ctx.now_ms, state.facts())
        if turn is None:
            before = state.copy()
            state.inbox = []
            state.save(ctx, before)
            return ReminderResult.DONE
        head, past, name, version = orchestrator_request(self.instance_id, state, turn)
        item = WorkItem("orchestrator", self.instance_id, head, dialect=state.dialect,
                        on_complete=self._deliver_completion, on_poison=self._report_poison,
                        name=name, version=version, past=past,
                        past_len=len(turn.past), lineage=self._lineage.of(turn.past))
        self._dispatch = _Dispatch(item, turn, len(state.inbox))
        self._dispatcher.submit(item)
        return ReminderResult.PARK

    async def _deliver_completion(self, item: WorkItem, response: bytes) -> None:
        await self._host.invoke(self.ref, "complete", Completion(item, response))

    async def _report_poison(self, item: WorkItem) -> None:
        await self._host.invoke(self.ref, "poisoned", item)

    def _poisoned(self, ctx: TurnContext, state: WorkflowState, method: str,
                  payload: object) -> None:
        """An orchestrator work item (or, via "stall", an activity) keeps losing its worker."""
        if method == "stall":
            assert isinstance(payload, str)
            poison.stall(ctx, self.instance_id, state, payload)
        else:
            assert isinstance(payload, WorkItem)
            if self._dispatch is None or self._dispatch.item is not payload:
                return  # superseded meanwhile
            self._dispatch = None  # `run` stays parked until something new arrives
            poison.give_up(ctx, self.instance_id, state, payload)
        self._publish(ctx, state)

    def _complete(self, ctx: TurnContext, state: WorkflowState, completion: Completion) -> None:
        dispatch = self._dispatch
        if dispatch is None or dispatch.item is not completion.item:
            raise NotFoundError(
                f"unknown instance ID/task ID combo: {self.instance_id} (stale completion)")
        # Applied now; or, if this turn fails, the rebuilt actor dispatches the turn anew.
        completion.item.superseded = True
        completion.item.history_kept = apply_completion(
            ctx, self.instance_id, state, dispatch.turn, dispatch.consumed, completion.response)
        self._dispatch = None
        if state.inbox:
            ctx.set_reminder(RUN, due_ms=ctx.now_ms)
        else:
            ctx.delete_reminder(RUN)
        self._publish(ctx, state)

    def _activity_result(self, ctx: TurnContext, state: WorkflowState,
                         result: ActivityResult) -> None:
        if effects.settle_activity(ctx, self.instance_id, state, result):
            self._accept(ctx, state, result.event)

    # -- purge ---------------------------------------------------------------------

    def _purge(self, ctx: TurnContext, state: WorkflowState, cmd: PurgeCommand) -> PurgeOutcome:
        outcome = effects.purge(ctx, self.instance_id, state, force=cmd.force)
        if outcome.purged:
            self._state = WorkflowState([], [], None, 0)
            self._drop_dispatch()
            self._publisher.purged(ctx)
        return outcome


def workflow_ref(instance_id: str) -> ActorRef:
    return ActorRef(WORKFLOW_ACTOR, instance_id)
