"""Checks on the SQLite file after a chaos run, written independently of the daemon's code.

Everything here reads the raw tables (store/migrations/sqlite) and decodes history rows
with the wire proto; nothing calls wfsidecar's engine or projection, so a bug there cannot
hide itself. Each check returns a list of human-readable problems (empty = passed).
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.stored_state import state_rows
from wfsidecar._proto.internal import orchestrator_service_pb2 as pb

WORKFLOW = "dapr.internal.wfengine.workflow"
ACTIVITY = "dapr.internal.wfengine.activity"
ENTITY = "dapr.internal.wfengine.entity"
STATUS_NAMES = {v: k.removeprefix("ORCHESTRATION_STATUS_")
                for k, v in pb.OrchestrationStatus.items()}


@dataclass
class Snapshot:
    """The workflow-related content of one database file."""

    histories: dict[str, list[pb.HistoryEvent]] = field(default_factory=dict)
    inbox_rows: Counter[str] = field(default_factory=Counter)
    actors: set[tuple[str, str]] = field(default_factory=set)  # (type, actor id)
    reminders: list[tuple[str, str, str]] = field(default_factory=list)  # (type, id, name)
    entity_states: dict[str, object] = field(default_factory=dict)  # entity id -> JSON state
    entity_queued: Counter[str] = field(default_factory=Counter)  # operations not yet run
    integrity: str = ""


def read(db: Path) -> Snapshot:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        snap = Snapshot(integrity=conn.execute("PRAGMA integrity_check").fetchone()[0])
        snap.actors = set(conn.execute("SELECT type, actor_id FROM actors"))
        for type_, actor_id, key, value in state_rows(conn):  # sorted by actor, key
            if type_ != WORKFLOW:
                continue
            if key.startswith("history-"):
                snap.histories.setdefault(actor_id, []).append(pb.HistoryEvent.FromString(value))
            elif key.startswith("inbox-"):
                snap.inbox_rows[actor_id] += 1
        rows = conn.execute(
            "SELECT a.actor_id, s.key, s.value FROM actors a JOIN actor_state s"
            " ON s.actor = a.id WHERE a.type = ?", (ENTITY,))
        for actor_id, key, value in rows:
            if key == "entityState":
                snap.entity_states[actor_id] = json.loads(value)
            elif key.startswith("queue-"):
                snap.entity_queued[actor_id] += 1
        snap.reminders = list(conn.execute(
            "SELECT a.type, a.actor_id, r.name FROM reminders r JOIN actors a ON a.id = r.actor"))
    finally:
        conn.close()
    return snap


def in_flight_activities(db: Path) -> int:
    """Activities scheduled and not yet resolved into their workflow: the most that a kill
    right now can make the worker run twice."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT count(*) FROM actors a JOIN actor_state s ON s.actor = a.id"
            " WHERE a.type = ? AND s.key LIKE 'activityreq-%'", (ACTIVITY,)).fetchone()
        return int(row[0])
    finally:
        conn.close()


def duplicate_resolutions(histories: Mapping[str, list[pb.HistoryEvent]]) -> list[str]:
    """No task, timer or child is resolved twice; one start and at most one end each."""
    problems: list[str] = []
    for instance_id, history in histories.items():
        seen: Counter[tuple[str, int]] = Counter()
        for event in history:
            kind = event.WhichOneof("eventType")
            if kind in ("taskCompleted", "taskFailed"):
                seen["task", getattr(event, kind).taskScheduledId] += 1
            elif kind in ("subOrchestrationInstanceCompleted", "subOrchestrationInstanceFailed"):
                seen["child", getattr(event, kind).taskScheduledId] += 1
            elif kind == "timerFired":
                seen["timer", event.timerFired.timerId] += 1
            elif kind in ("executionStarted", "executionCompleted", "executionTerminated"):
                seen[kind, 0] += 1
        problems += [f"{instance_id}: {what} {number} resolved {count} times"
                     for (what, number), count in seen.items() if count > 1]
        if seen["executionStarted", 0] != 1:
            problems.append(f"{instance_id}: {seen['executionStarted', 0]} ExecutionStarted")
    return problems


def status_from_history(history: Iterable[pb.HistoryEvent]) -> tuple[str, str | None]:
    """(status, output) as the history alone says, without wfsidecar's projection."""
    status, output, started = "PENDING", None, False
    for event in history:
        kind = event.WhichOneof("eventType")
        if kind == "orchestratorStarted":
            started = True
            status = "RUNNING" if status == "PENDING" else status
        elif kind == "executionSuspended" and status in ("RUNNING", "PENDING"):
            status = "SUSPENDED"
        elif kind == "executionResumed" and status == "SUSPENDED":
            status = "RUNNING" if started else "PENDING"
        elif kind == "executionCompleted":
            done = event.executionCompleted
            status = STATUS_NAMES[done.orchestrationStatus]
            output = done.result.value if done.HasField("result") else None
    return status, output


def index_agrees(db: Path, snap: Snapshot) -> list[str]:
    """The instance index (the read model) says what the histories say: one row per
    instance that holds state, none for anything else, each with the status, name,
    creation, completion, parent and history length its own history gives."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = {r[0]: r[1:] for r in conn.execute(
            "SELECT a.actor_id, i.status, i.name, i.created_ms, i.completed_ms, i.parent_id,"
            " i.history_len FROM instances i JOIN actors a ON a.id = i.actor")}
    finally:
        conn.close()
    return rows_agree(rows, snap)


def rows_agree(rows: Mapping[str, tuple[object, ...]], snap: Snapshot) -> list[str]:
    """``index_agrees`` on index rows read from any store: instance id -> (status, name,
    created_ms, completed_ms, parent id, history length)."""
    problems = [f"{i}: index row without workflow state" for i in rows
                if i not in snap.histories and i not in snap.inbox_rows]
    for instance_id, history in snap.histories.items():
        row = rows.get(instance_id)
        if row is None:
            problems.append(f"{instance_id}: no index row")
            continue
        started = next((e for e in history if e.HasField("executionStarted")), None)
        done = next((e for e in history if e.HasField("executionCompleted")), None)
        if started is None:
            continue
        parent = started.executionStarted.parentInstance
        want = (status_from_history(history)[0], started.executionStarted.name,
                _ms(started), _ms(done) if done is not None else None,
                parent.orchestrationInstance.instanceId
                if started.executionStarted.HasField("parentInstance") else None,
                len(history))
        got = (STATUS_NAMES[int(str(row[0]))], *row[1:])
        if got != want:
            problems.append(f"{instance_id}: index row {got}, history says {want}")
    return problems


def _ms(event: pb.HistoryEvent) -> int:
    return event.timestamp.seconds * 1000 + event.timestamp.nanos // 1_000_000


def leftovers(snap: Snapshot, purged: Iterable[str]) -> list[str]:
    """Nothing of a purged instance remains: no actor, state row or reminder of the
    instance or of its activities (``<id>#<task>``)."""
    gone = set(purged)

    def owner(actor_id: str) -> str:
        return actor_id.rpartition("#")[0] if "#" in actor_id else actor_id

    problems = [f"purged {owner(a)} still has actor {t}/{a}"
                for t, a in snap.actors if owner(a) in gone]
    problems += [f"purged {owner(a)} still has reminder {n} on {t}/{a}"
                 for t, a, n in snap.reminders if owner(a) in gone]
    return problems


def finished_clean(snap: Snapshot, done: Iterable[str]) -> list[str]:
    """A terminal instance keeps its history only: no unprocessed inbox rows, no
    reminders, no activity actors waiting to run."""
    ids = set(done)
    problems = [f"{i}: {n} inbox rows left after completion"
                for i, n in snap.inbox_rows.items() if i in ids]
    problems += [f"{a}: reminder {n} left after completion" for t, a, n in snap.reminders
                 if (a.rpartition("#")[0] if t == ACTIVITY else a) in ids]
    problems += [f"{a}: activity actor left after completion" for t, a in snap.actors
                 if t == ACTIVITY and a.rpartition("#")[0] in ids]
    return problems


def entities_settled(snap: Snapshot, expected: Iterable[tuple[str, object]]) -> list[str]:
    """Each entity holds exactly the state its operations add up to (one applied twice or
    lost shows), and no operation is left queued."""
    problems = [f"entity {e}: state {snap.entity_states.get(e)!r}, expected {want!r}"
                for e, want in expected if snap.entity_states.get(e) != want]
    problems += [f"entity {e}: {n} operations still queued"
                 for e, n in snap.entity_queued.items()]
    return problems


def activity_runs(log: Path) -> Counter[tuple[str, str]]:
    runs: Counter[tuple[str, str]] = Counter()
    for line in log.read_text().splitlines():
        instance_id, _, value = line.partition(" ")
        runs[instance_id, value] += 1
    return runs


def compare_runs(runs: Counter[tuple[str, str]],
                 expected: Iterable[tuple[str, str]]) -> tuple[list[str], int]:
    """(problems, re-executions): every expected run at least once, nothing unexpected;
    re-executions are runs beyond the first."""
    want = Counter(expected)
    problems = [f"activity {i} {v} never ran" for (i, v) in want if runs[i, v] == 0]
    problems += [f"unexpected activity run {i} {v}" for (i, v) in runs if (i, v) not in want]
    extra = sum(max(0, runs[key] - count) for key, count in want.items())
    return problems, extra


def grouped_by_instance(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for instance_id, value in pairs:
        grouped[instance_id].append(value)
    return grouped


def as_json(text: str | None) -> object:
    return None if text is None else json.loads(text)
