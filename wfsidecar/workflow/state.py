"""The workflow actor's state layout, exactly as Dapr's actor backend keeps it.

Keys per workflow actor (id = instance id), engine.md §2.1:
  ``inbox-NNNNNN``    one serialized HistoryEvent per key, waiting for the next turn
  ``history-NNNNNN``  one serialized HistoryEvent per key, the committed history
  ``customStatus``    the custom status as a JSON string
  ``metadata``        JSON ``{"inboxLength", "historyLength", "generation"}`` (+ ``"dialect":
                      "ms"`` for instances started through the Microsoft dialect, and
                      ``"tags"`` once a Microsoft completion added some, and
                      ``"firstCreatedMs"`` once a traced one continued as new)
Activity actors (id ``<instanceId>#<taskId>``) hold one key, ``activityreq-<generation>``.

Only keys whose position changed are rewritten, so a turn that appends three events writes
three history keys plus ``metadata``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.actors import TurnContext
from wfsidecar.engine import HistoryFacts
from wfsidecar.errors import StoreError
from wfsidecar.workflow import request_wire

DAPR = "dapr"
MICROSOFT = "ms"
WORKFLOW_ACTOR = "dapr.internal.wfengine.workflow"
ACTIVITY_ACTOR = "dapr.internal.wfengine.activity"
ENTITY_ACTOR = "dapr.internal.wfengine.entity"


def inbox_key(i: int) -> str:
    return f"inbox-{i:06d}"


def history_key(i: int) -> str:
    return f"history-{i:06d}"


def activity_key(generation: int) -> str:
    return f"activityreq-{generation}"


def activity_actor_id(instance_id: str, task_id: int) -> str:
    return f"{instance_id}#{task_id}"


def parse_activity_actor_id(actor_id: str) -> tuple[str, int]:
    # Split on the LAST '#': instance ids may not contain it, but be strict anyway.
    instance_id, _, task = actor_id.rpartition("#")
    return instance_id, int(task)


def _required(ctx: TurnContext, key: str) -> bytes:
    # A key the metadata counts but the store lacks means the state was damaged outside a
    # turn; carrying on would run (and save) a shorter or blank history (hazard 36). The
    # failed turn drops the actor's cache, so a later call reloads from the store.
    raw = ctx.get(key)
    if raw is None:
        raise StoreError(f"workflow {ctx.ref.id!r}: state key {key!r} is missing although "
                         "its metadata counts it; refusing to use a damaged history")
    return raw


def _parse(raw: bytes) -> pb.HistoryEvent:
    event = pb.HistoryEvent()
    event.ParseFromString(raw)
    return event


class WorkflowState:
    """Parsed workflow actor state plus the write-back of what a turn changed."""

    def __init__(self, inbox: list[pb.HistoryEvent], history: list[pb.HistoryEvent],
                 custom_status: str | None, generation: int, dialect: str = DAPR) -> None:
        self.inbox = inbox
        self.history = history
        self.custom_status = custom_status
        self.generation = generation
        self.dialect = dialect
        # Microsoft: the worker's orchestration span, echoed back in every later request.
        self.trace: bytes | None = None
        # Microsoft: tags a completion added to the instance's (the ExecutionStarted keeps
        # those it was started with); kept until the instance is created anew.
        self.tags: dict[str, str] = {}
        # When a traced instance was created, once it has continued as new (each
        # generation's ExecutionStarted has its own time): where its one span starts.
        self.first_created_ms: int | None = None
        # Not stored: the generation a continue-as-new just ended, as last shown to the
        # worker, until the turn's publisher has handed it to the observer.
        self.continued_from: list[pb.HistoryEvent] | None = None
        self._facts = HistoryFacts()
        self._encoded = _Encoded()

    def encoded_history(self) -> tuple[list[bytes], list[bytes]]:
        """``history`` serialized event by event, and framed as request entries
        (request_wire.py); only appended events are encoded anew. The lists are only ever
        appended to (a replaced history gets new ones), so a slice taken later of what they
        hold now is still what they held."""
        return self._encoded.of(self.history)

    def facts(self) -> HistoryFacts:
        """The facts of ``history`` (engine/facts.py), folding only what was appended since
        they were last asked for; a replaced history is folded anew."""
        facts = self._facts
        if not facts.describes(self.history):
            facts = HistoryFacts()
        if facts.count < len(self.history):
            facts = facts.extended(self.history[facts.count:])
        self._facts = facts
        return facts

    @property
    def exists(self) -> bool:
        return self.generation > 0

    @classmethod
    def load(cls, ctx: TurnContext) -> WorkflowState:
        raw_meta = ctx.get("metadata")
        if raw_meta is None:
            return cls([], [], None, 0)
        meta = json.loads(raw_meta)
        inbox = [_parse(_required(ctx, inbox_key(i))) for i in range(meta["inboxLength"])]
        history = [_parse(_required(ctx, history_key(i)))
                   for i in range(meta["historyLength"])]
        raw_status = ctx.get("customStatus")
        custom = json.loads(raw_status) if raw_status else None
        state = cls(inbox, history, custom or None, int(meta["generation"]),
                    meta.get("dialect", DAPR))
        state._encoded = _Encoded(history, [_required(ctx, history_key(i))
                                            for i in range(len(history))])
        if "traceContext" in meta:
            state.trace = base64.b64decode(meta["traceContext"])
        state.tags = dict(meta.get("tags", {}))
        state.first_created_ms = meta.get("firstCreatedMs")
        return state

    def save(self, ctx: TurnContext, before: WorkflowState | None) -> None:
        """Write what differs from ``before`` (None = write everything)."""
        old_inbox = before.inbox if before else []
        old_history = before.history if before else []
        _write_list(ctx, inbox_key, old_inbox, self.inbox)
        _write_list(ctx, history_key, old_history, self.history, self.encoded_history()[0])
        old_custom = before.custom_status if before else None
        if self.custom_status != old_custom or before is None:
            if self.custom_status is None:
                ctx.delete("customStatus")
            else:
                ctx.put("customStatus", json.dumps(self.custom_status).encode())
        meta: dict[str, object] = {"inboxLength": len(self.inbox),
                                   "historyLength": len(self.history),
                                   "generation": self.generation}
        if self.trace:
            meta["traceContext"] = base64.b64encode(self.trace).decode()
        if self.tags:
            meta["tags"] = self.tags
        if self.first_created_ms is not None:
            meta["firstCreatedMs"] = self.first_created_ms
        if self.dialect != DAPR:
            # Only instances started through the Microsoft dialect carry it; Dapr-started
            # ones keep exactly the seed's three fields.
            meta["dialect"] = self.dialect
        ctx.put("metadata", json.dumps(meta, separators=(",", ":")).encode())

    def copy(self) -> WorkflowState:
        copy = WorkflowState(list(self.inbox), list(self.history), self.custom_status,
                             self.generation, self.dialect)
        copy.trace = self.trace
        copy.tags = dict(self.tags)
        copy.first_created_ms = self.first_created_ms
        copy._facts = self._facts
        copy._encoded = self._encoded.copy()
        return copy


class _Encoded:
    """The serialized events of a history, kept in step with it like its facts."""

    __slots__ = ("_first", "_framed", "_last", "_raw")

    def __init__(self, events: Sequence[pb.HistoryEvent] = (),
                 raw: list[bytes] | None = None) -> None:
        self._raw: list[bytes] = raw if raw is not None else []
        self._framed = [request_wire.past_event(r) for r in self._raw]
        self._first = events[0] if events else None
        self._last = events[-1] if events else None

    def of(self, history: Sequence[pb.HistoryEvent]) -> tuple[list[bytes], list[bytes]]:
        n = len(self._raw)
        if n and (len(history) < n or history[0] is not self._first
                  or history[n - 1] is not self._last):
            self._raw, self._framed, n = [], [], 0  # new lists: older slices stay valid
        if n < len(history):
            for event in history[n:]:
                raw = event.SerializeToString()
                self._raw.append(raw)
                self._framed.append(request_wire.past_event(raw))
            self._first, self._last = history[0], history[-1]
        return self._raw, self._framed

    def copy(self) -> _Encoded:
        # Shares the lists: whichever side's history moves on alone appends to them only
        # while they still match it, and the other then sees a mismatch and starts anew.
        copy = _Encoded()
        copy._raw, copy._framed = self._raw, self._framed
        copy._first, copy._last = self._first, self._last
        return copy


def _write_list(ctx: TurnContext, key: object, old: Sequence[pb.HistoryEvent],
                new: Sequence[pb.HistoryEvent], encoded: Sequence[bytes] | None = None) -> None:
    assert callable(key)
    common = min(len(old), len(new))
    # Events are never mutated once listed, so a list that kept its first and last common
    # events was only appended to: the common part needs no comparing (turns stay O(new)).
    unchanged = common and old[0] is new[0] and old[common - 1] is new[common - 1]
    for i in range(common if unchanged else 0, len(new)):
        event = new[i]
        if i >= len(old) or (old[i] is not event and old[i] != event):
            ctx.put(key(i), encoded[i] if encoded is not None else event.SerializeToString())
    for i in range(len(new), len(old)):
        ctx.delete(key(i))
