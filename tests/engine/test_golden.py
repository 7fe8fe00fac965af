"""Golden histories: whole scenarios compared field by field with JSON files in data/.

The files are protobuf JSON (json_format), reviewed by hand. After an intended change,
regenerate with ``WFSIDECAR_REGEN_GOLDEN=1 pytest tests/engine/test_golden.py`` and
review the diff before committing it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format

from wfsidecar import engine
from wfsidecar._proto.internal import orchestrator_service_pb2 as pb

from .builders import T0, Instance, child, complete, schedule, started

DATA = Path(__file__).parent / "data"


def _outbox_json(item: engine.Outbox) -> dict[str, Any]:
    fields: dict[str, Any] = {"kind": type(item).__name__}
    for field in dataclasses.fields(item):
        value = getattr(item, field.name)
        fields[field.name] = json_format.MessageToDict(value) if isinstance(
            value, pb.HistoryEvent) else value
    return fields


def _record(wf: Instance, result: engine.TurnResult, log: list[dict[str, Any]]) -> None:
    log.append({
        "outbox": [_outbox_json(o) for o in result.outbox],
        "status": result.view.status.name,
        "custom_status": result.custom_status,
        "next_inbox": [json_format.MessageToDict(e) for e in result.next_inbox],
    })


def activity_sequence() -> dict[str, Any]:
    """Start, three activities one after another, complete (Dapr test_activity_sequence)."""
    wf = Instance(inbox=[started(input="1")])
    turns: list[dict[str, Any]] = []
    _record(wf, wf.turn(T0, schedule(0, "plus_one", "1", task_execution_id="t0")), turns)
    for n in range(1, 3):
        wf.inbox = [engine.task_completed(n - 1, str(n + 1), T0 + 10 * n, f"t{n - 1}")]
        action = schedule(n, "plus_one", str(n + 1), task_execution_id=f"t{n}")
        _record(wf, wf.turn(T0 + 10 * n, action, custom_status=f'"step {n}"'), turns)
    wf.inbox = [engine.task_completed(2, "4", T0 + 30, "t2")]
    _record(wf, wf.turn(T0 + 30, complete(3, result="4")), turns)
    return {"turns": turns, "history": [json_format.MessageToDict(e) for e in wf.history]}


def child_terminated_recursively() -> dict[str, Any]:
    """A parent with a child terminated recursively while it has a parent of its own."""
    parent = pb.ParentInstanceInfo(taskScheduledId=1)
    parent.name.value = "Root"
    parent.orchestrationInstance.instanceId = "root"
    wf = Instance(inbox=[started(parent=parent)])
    turns: list[dict[str, Any]] = []
    _record(wf, wf.turn(T0, child(0, "Leaf", input='"l"')), turns)
    wf.inbox = [engine.execution_terminated('"enough"', True, T0 + 5)]
    _record(wf, wf.turn(T0 + 6, complete(1, pb.ORCHESTRATION_STATUS_TERMINATED,
                                         result='"enough"')), turns)
    return {"turns": turns, "history": [json_format.MessageToDict(e) for e in wf.history]}


def continue_as_new_with_carryover() -> dict[str, Any]:
    wf = Instance(inbox=[started(input="0"), engine.event_raised("tick", '"a"', T0)])
    turns: list[dict[str, Any]] = []
    carry = [engine.event_raised("tick", '"a"', T0)]
    _record(wf, wf.turn(T0, complete(0, pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW, "1",
                                     carryover=carry)), turns)
    _record(wf, wf.turn(T0, complete(0, result="1")), turns)
    return {"turns": turns, "history": [json_format.MessageToDict(e) for e in wf.history]}


SCENARIOS: dict[str, Callable[[], dict[str, Any]]] = {
    "activity_sequence": activity_sequence,
    "child_terminated_recursively": child_terminated_recursively,
    "continue_as_new_with_carryover": continue_as_new_with_carryover,
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_golden(name: str) -> None:
    actual = json.loads(json.dumps(SCENARIOS[name]()))
    path = DATA / f"{name}.json"
    if os.environ.get("WFSIDECAR_REGEN_GOLDEN"):
        path.write_text(json.dumps(actual, indent=1) + "\n")
    expected = json.loads(path.read_text())
    assert actual["history"] == expected["history"]
    assert actual == expected
