"""Pure orchestration logic: history rules, actions, status. No asyncio, no store, no gRPC.

The workflow actor drives it: ``begin_turn`` picks what the worker sees,
``build_orchestrator_request`` makes the work item, ``apply_response`` turns the answer
into the new history plus the outbox to commit with it, and ``project`` derives the status
that Get/Query report (style.md §3.1 principle 1, engine.md §1).
"""

from __future__ import annotations

from wfsidecar.engine.apply import TurnResult, apply_response
from wfsidecar.engine.entities import MessageEntity
from wfsidecar.engine.facts import HistoryFacts
from wfsidecar.engine.history import (
    event_raised,
    execution_resumed,
    execution_started,
    execution_suspended,
    execution_terminated,
    orchestrator_started,
    sub_orchestration_completed,
    sub_orchestration_failed,
    task_completed,
    task_failed,
    timer_fired,
    unfired_timers,
)
from wfsidecar.engine.outbox import (
    DeliverEvent,
    NotifyParent,
    Outbox,
    ScheduleActivity,
    ScheduleTimer,
    StartChild,
    TerminateInstance,
)
from wfsidecar.engine.rerun import rerun_history
from wfsidecar.engine.status import TERMINAL, InstanceView, RuntimeStatus, project
from wfsidecar.engine.turn import (
    TurnInput,
    begin_turn,
    build_activity_request,
    build_orchestrator_request,
)

__all__ = [
    "TERMINAL",
    "DeliverEvent",
    "HistoryFacts",
    "InstanceView",
    "MessageEntity",
    "NotifyParent",
    "Outbox",
    "RuntimeStatus",
    "ScheduleActivity",
    "ScheduleTimer",
    "StartChild",
    "TerminateInstance",
    "TurnInput",
    "TurnResult",
    "apply_response",
    "begin_turn",
    "build_activity_request",
    "build_orchestrator_request",
    "event_raised",
    "execution_resumed",
    "execution_started",
    "execution_suspended",
    "execution_terminated",
    "orchestrator_started",
    "project",
    "rerun_history",
    "sub_orchestration_completed",
    "sub_orchestration_failed",
    "task_completed",
    "task_failed",
    "timer_fired",
    "unfired_timers",
]
