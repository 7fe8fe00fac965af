"""Differential scenarios for the Microsoft dialect (issue #4), run by ``test_differential.py``.

Runs INSIDE the ``durabletask-112`` SDK virtualenv (``durabletask==1.12.0``), never imported by
the project::

    python scenarios.py <host:port> [name ...]

It connects the real SDK (sync ``TaskHubGrpcClient``, ``AsyncTaskHubGrpcClient`` and
``TaskHubGrpcWorker``) to the server at ``host:port``, runs the named scenarios (all of them by
default) one after the other, and prints ONE JSON object ``{scenario: outcome}`` on the last
stdout line. An outcome holds only what two correct servers must agree on: runtime status names,
deserialized inputs/outputs, custom status, failure type + message, history event kinds, gRPC
status code names. Instance-specific values are removed: every instance id and entity key is
built from a per-scenario random prefix, which ``Env.norm`` rewrites to ``<P>``; timestamps and
execution ids are never recorded. A scenario that raises is recorded as
``{"error": "<type>: <message>"}`` and the run goes on.

Scenarios run sequentially against one server. Most use the ``main`` worker (everything
registered, no filters, no versioning); the work-item-filter and versioning scenarios need
other worker configurations, so the runner stops ``main`` and starts the profiles those
scenarios name (``WORKER_PROFILES``); they are listed last to keep the number of swaps low.

Note: durabletask 1.12.0 has no ``durabletask.aio`` module; the async client is
``durabletask.client.AsyncTaskHubGrpcClient``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import durabletask.internal.orchestrator_service_pb2 as pb
import grpc
from durabletask import entities, task
from durabletask import worker as dtw
from durabletask.client import (
    AsyncTaskHubGrpcClient,
    EntityQuery,
    OrchestrationQuery,
    OrchestrationState,
    OrchestrationStatus,
    TaskHubGrpcClient,
)
from durabletask.entities import EntityInstanceId

# Seconds a scenario waits for one orchestration to finish. Generous for CI, but bounded so a
# server that never answers costs a bounded time per scenario (see also RUN_BUDGET).
T = float(os.environ.get("DIFF_WAIT_TIMEOUT", "20"))
# Hard cap for one scenario (it runs in its own thread) and for the whole run.
SCENARIO_TIMEOUT = float(os.environ.get("DIFF_SCENARIO_TIMEOUT", "90"))
RUN_BUDGET = float(os.environ.get("DIFF_RUN_BUDGET", "600"))

QUIET = logging.getLogger("diff.sdk")
QUIET.setLevel(logging.WARNING)
QUIET.addHandler(logging.StreamHandler(sys.stderr))
QUIET.propagate = False

Gen = Generator[task.Task[Any], Any, Any]

# ---------------------------------------------------------------------------------------------
# Process-global side-effect counters (activities and some orchestrators count their calls).
# ---------------------------------------------------------------------------------------------

_COUNTS: Counter[str] = Counter()
_COUNTS_LOCK = threading.Lock()


def bump(key: str) -> int:
    with _COUNTS_LOCK:
        _COUNTS[key] += 1
        return _COUNTS[key]


def count(key: str) -> int:
    with _COUNTS_LOCK:
        return _COUNTS[key]


# ---------------------------------------------------------------------------------------------
# Activities
# ---------------------------------------------------------------------------------------------


def add_one(ctx: task.ActivityContext, x: int) -> int:
    return x + 1


def square(ctx: task.ActivityContext, x: int) -> int:
    return x * x


def fail_act(ctx: task.ActivityContext, message: str) -> None:
    raise ValueError(message)


def counted_add(ctx: task.ActivityContext, key_and_x: list[Any]) -> int:
    key, x = key_and_x
    bump(f"{key}/counted_add")
    return int(x) + 1


def flaky_act(ctx: task.ActivityContext, key_and_failures: list[Any]) -> int:
    """Fails the first ``failures`` calls for ``key``, then returns the attempt number."""
    key, failures = key_and_failures
    attempt = bump(f"{key}/flaky_act")
    if attempt <= failures:
        raise RuntimeError(f"attempt {attempt} failed")
    return attempt


def run_counter(ctx: task.ActivityContext, key: str) -> int:
    return bump(f"{key}/runs")


# ---------------------------------------------------------------------------------------------
# Orchestrators (main worker)
# ---------------------------------------------------------------------------------------------


def echo(ctx: task.OrchestrationContext, value: Any) -> Any:
    return value


def empty(ctx: task.OrchestrationContext, _: Any) -> None:
    return None


def chain(ctx: task.OrchestrationContext, x: int) -> Gen:
    for _ in range(5):
        x = yield ctx.call_activity(add_one, input=x)
    return x


def fan_out(ctx: task.OrchestrationContext, n: int) -> Gen:
    results = yield task.when_all([ctx.call_activity(square, input=i) for i in range(n)])
    return sum(results)


def child_add(ctx: task.OrchestrationContext, x: int) -> Gen:
    y = yield ctx.call_activity(add_one, input=x)
    return y * 10


def parent_of_children(ctx: task.OrchestrationContext, n: int) -> Gen:
    tasks = [ctx.call_sub_orchestrator(child_add, input=i, instance_id=f"{ctx.instance_id}-c{i}")
             for i in range(n)]
    results = yield task.when_all(tasks)
    return results


def child_reports_ids(ctx: task.OrchestrationContext, _: Any) -> dict[str, Any]:
    return {"parent_instance_id": ctx.parent_instance_id, "instance_id": ctx.instance_id}


def parent_asks_child_ids(ctx: task.OrchestrationContext, _: Any) -> Gen:
    # No explicit id: the SDK derives "<parent>:<action id as %04x>".
    return (yield ctx.call_sub_orchestrator(child_reports_ids))


def failing_child(ctx: task.OrchestrationContext, message: str) -> None:
    raise ValueError(message)


def parent_catches_child(ctx: task.OrchestrationContext, _: Any) -> Gen:
    try:
        yield ctx.call_sub_orchestrator(failing_child, input="child boom",
                                        instance_id=f"{ctx.instance_id}-child")
    except task.TaskFailedError as e:
        return {"caught": type(e).__name__, "error_type": e.details.error_type,
                "message": e.details.message, "str": str(e)}
    return "not caught"


def parent_fails_with_child(ctx: task.OrchestrationContext, _: Any) -> Gen:
    yield ctx.call_sub_orchestrator(failing_child, input="child boom",
                                    instance_id=f"{ctx.instance_id}-child")
    return "unreachable"


def timer_orch(ctx: task.OrchestrationContext, seconds: float) -> Gen:
    start = ctx.current_utc_datetime
    yield ctx.create_timer(timedelta(seconds=seconds))
    return (ctx.current_utc_datetime - start).total_seconds() >= seconds


def wait_events(ctx: task.OrchestrationContext, names: list[str]) -> Gen:
    out = []
    for name in names:
        out.append((yield ctx.wait_for_external_event(name)))
    return out


def wait_one(ctx: task.OrchestrationContext, _: Any) -> Gen:
    return (yield ctx.wait_for_external_event("go"))


def event_or_timeout(ctx: task.OrchestrationContext, seconds: float) -> Gen:
    event = ctx.wait_for_external_event("approve")
    timer = ctx.create_timer(timedelta(seconds=seconds))
    winner = yield task.when_any([event, timer])
    if winner is timer:
        return "timeout"
    return f"approved:{event.get_result()}"


def sender(ctx: task.OrchestrationContext, target: str) -> str:
    ctx.send_event(target, "go", data="hello from sender")
    ctx.send_event(f"{target}-nobody", "go", data="lost")  # undeliverable: dropped silently
    return "sent"


def waits_for_children(ctx: task.OrchestrationContext, n: int) -> Gen:
    tasks = [ctx.call_sub_orchestrator(wait_one, instance_id=f"{ctx.instance_id}-c{i}")
             for i in range(n)]
    return (yield task.when_all(tasks))


def can_counter(ctx: task.OrchestrationContext, n: int) -> int | None:
    ctx.set_custom_status(f"generation {n}")
    if n < 4:
        ctx.continue_as_new(n + 1)
        return None
    return n


def can_save_events(ctx: task.OrchestrationContext, received: list[Any]) -> Gen:
    value = yield ctx.wait_for_external_event("item")
    received = [*received, value]
    if len(received) < 3:
        ctx.continue_as_new(received, save_events=True)
        return None
    return received


def can_activity(ctx: task.OrchestrationContext, n: int) -> Gen:
    n = yield ctx.call_activity(add_one, input=n)
    if n < 3:
        ctx.continue_as_new(n)
        return None
    return n


def can_new_version(ctx: task.OrchestrationContext, generation: int) -> Any:
    if generation == 0:
        ctx.continue_as_new(1, new_version="2.0")
        return None
    return {"generation": generation, "version": ctx.version}


def custom_status_orch(ctx: task.OrchestrationContext, _: Any) -> Gen:
    ctx.set_custom_status({"stage": 1, "label": "waiting"})
    value = yield ctx.wait_for_external_event("go")
    ctx.set_custom_status("done")
    return value


def activity_failure_caught(ctx: task.OrchestrationContext, _: Any) -> Gen:
    try:
        yield ctx.call_activity(fail_act, input="activity boom")
    except task.TaskFailedError as e:
        compensated = yield ctx.call_activity(add_one, input=41)
        return {"caught": type(e).__name__, "error_type": e.details.error_type,
                "message": e.details.message, "str": str(e), "compensated": compensated}
    return "not caught"


def activity_failure_uncaught(ctx: task.OrchestrationContext, _: Any) -> Gen:
    yield ctx.call_activity(fail_act, input="activity boom")
    return "unreachable"


def orch_raises(ctx: task.OrchestrationContext, _: Any) -> None:
    raise ValueError("orchestrator boom")


def calls_unregistered(ctx: task.OrchestrationContext, _: Any) -> Gen:
    return (yield ctx.call_activity("no_such_activity", input=1))


RETRY = task.RetryPolicy(first_retry_interval=timedelta(seconds=0.5), max_number_of_attempts=3,
                         backoff_coefficient=1.0)
RETRY_TWICE = task.RetryPolicy(first_retry_interval=timedelta(seconds=0.3),
                               max_number_of_attempts=2, backoff_coefficient=1.0)


def retry_activity(ctx: task.OrchestrationContext, failures: int) -> Gen:
    return (yield ctx.call_activity(flaky_act, input=[ctx.instance_id, failures],
                                    retry_policy=RETRY))


def retry_activity_exhausted(ctx: task.OrchestrationContext, _: Any) -> Gen:
    return (yield ctx.call_activity(flaky_act, input=[ctx.instance_id, 99],
                                    retry_policy=RETRY_TWICE))


def flaky_child(ctx: task.OrchestrationContext, failures: int) -> int:
    attempt = bump(f"{ctx.instance_id}/flaky_child")  # one turn per execution: no replays
    if attempt <= failures:
        raise RuntimeError(f"child attempt {attempt} failed")
    return attempt


def retry_child(ctx: task.OrchestrationContext, failures: int) -> Gen:
    return (yield ctx.call_sub_orchestrator(flaky_child, input=failures,
                                            instance_id=f"{ctx.instance_id}-child",
                                            retry_policy=RETRY))


def count_runs(ctx: task.OrchestrationContext, key: str) -> Gen:
    return (yield ctx.call_activity(run_counter, input=key))


def rewind_orch(ctx: task.OrchestrationContext, _: Any) -> Gen:
    a = yield ctx.call_activity(counted_add, input=[ctx.instance_id, 1])
    b = yield ctx.call_activity(flaky_act, input=[ctx.instance_id, 1])  # fails once
    return [a, b]


def rewind_child(ctx: task.OrchestrationContext, _: Any) -> Gen:
    return (yield ctx.call_activity(flaky_act, input=[ctx.instance_id, 1]))


def rewind_parent(ctx: task.OrchestrationContext, _: Any) -> Gen:
    first = yield ctx.call_activity(counted_add, input=[ctx.instance_id, 10])
    child = yield ctx.call_sub_orchestrator(rewind_child, instance_id=f"{ctx.instance_id}-child")
    return [first, child]


def tagged(ctx: task.OrchestrationContext, _: Any) -> Gen:
    return (yield ctx.call_activity(add_one, input=1, tags={"step": "one", "team": "diff"}))


def version_child(ctx: task.OrchestrationContext, _: Any) -> Any:
    return ctx.version


def version_parent(ctx: task.OrchestrationContext, _: Any) -> Gen:
    child = yield ctx.call_sub_orchestrator(version_child, version="2.0",
                                            instance_id=f"{ctx.instance_id}-child")
    return {"version": ctx.version, "child_version": child}


# Entities ------------------------------------------------------------------------------------


def counter(ctx: entities.EntityContext, value: Any) -> Any:
    state = ctx.get_state(int, 0)
    op = ctx.operation
    if op == "add":
        state += value
        ctx.set_state(state)
        return state
    if op == "get":
        return state
    if op == "set":
        ctx.set_state(value)
        return value
    if op == "delete":
        ctx.set_state(None)
        return None
    if op == "fail":
        raise ValueError("entity boom")
    if op == "start_orch":
        return ctx.schedule_new_orchestration("echo", input=value["input"],
                                              instance_id=value["id"])
    raise ValueError(f"unknown operation {op}")


class Account(entities.DurableEntity):
    def deposit(self, amount: int) -> int:
        balance = self.get_state(int, 0) + amount
        self.set_state(balance)
        return balance

    def balance(self) -> int:
        return self.get_state(int, 0)


def entity_caller(ctx: task.OrchestrationContext, key: str) -> Gen:
    eid = EntityInstanceId("counter", key)
    a = yield ctx.call_entity(eid, "add", 5)
    ctx.signal_entity(eid, "add", 10)
    b = yield ctx.call_entity(eid, "get")
    return [a, b]


def entity_fail_caller(ctx: task.OrchestrationContext, key: str) -> Gen:
    eid = EntityInstanceId("counter", key)
    try:
        yield ctx.call_entity(eid, "fail")
    except Exception as e:  # noqa: BLE001 - record whatever the SDK raises
        after = yield ctx.call_entity(eid, "get")
        return {"caught": type(e).__name__, "str": str(e), "after": after}
    return "not caught"


def account_caller(ctx: task.OrchestrationContext, key: str) -> Gen:
    return (yield ctx.call_entity(EntityInstanceId("Account", key), "balance"))


def locked_increment(ctx: task.OrchestrationContext, key_and_times: list[Any]) -> Gen:
    key, times = key_and_times
    eid = EntityInstanceId("counter", key)
    for _ in range(times):
        with (yield ctx.lock_entities([eid])):
            value = yield ctx.call_entity(eid, "get")
            yield ctx.call_entity(eid, "set", value + 1)
    return "done"


def lock_two(ctx: task.OrchestrationContext, keys: list[str]) -> Gen:
    a, b = (EntityInstanceId("counter", k) for k in keys)
    with (yield ctx.lock_entities([a, b])):
        x = yield ctx.call_entity(a, "add", 1)
        y = yield ctx.call_entity(b, "add", 2)
    return [x, y]


def lock_and_hold(ctx: task.OrchestrationContext, key: str) -> Gen:
    eid = EntityInstanceId("counter", key)
    with (yield ctx.lock_entities([eid])):
        before = yield ctx.call_entity(eid, "get")
        ctx.set_custom_status("locked")
        yield ctx.wait_for_external_event("release")
        after = yield ctx.call_entity(eid, "get")
    return [before, after]


# Orchestrators for the special worker profiles -----------------------------------------------


def filt_act(ctx: task.ActivityContext, x: Any) -> str:
    return f"act:{x}"


def filt_a(ctx: task.OrchestrationContext, x: Any) -> Gen:
    return (yield ctx.call_activity(filt_act, input=x))


def filt_b(ctx: task.OrchestrationContext, x: Any) -> str:
    return f"b:{x}"


def filt_v(ctx: task.OrchestrationContext, _: Any) -> Any:
    return ctx.version


def auto_act(ctx: task.ActivityContext, x: Any) -> str:
    return f"auto:{x}"


def auto_orch(ctx: task.OrchestrationContext, x: Any) -> Gen:
    return (yield ctx.call_activity(auto_act, input=x))


def v_simple(ctx: task.OrchestrationContext, _: Any) -> Any:
    return ctx.version


def v_child(ctx: task.OrchestrationContext, _: Any) -> Any:
    return ctx.version


def v_parent(ctx: task.OrchestrationContext, _: Any) -> Gen:
    child = yield ctx.call_sub_orchestrator(v_child, instance_id=f"{ctx.instance_id}-child")
    return {"version": ctx.version, "child_version": child}


# ---------------------------------------------------------------------------------------------
# Worker profiles
# ---------------------------------------------------------------------------------------------

MAIN_ORCHESTRATORS = [
    echo, empty, chain, fan_out, child_add, parent_of_children, child_reports_ids,
    parent_asks_child_ids, failing_child, parent_catches_child, parent_fails_with_child,
    timer_orch, wait_events, wait_one, event_or_timeout, sender, waits_for_children,
    can_counter, can_save_events, can_activity, can_new_version, custom_status_orch,
    activity_failure_caught, activity_failure_uncaught, orch_raises, calls_unregistered,
    retry_activity, retry_activity_exhausted, flaky_child, retry_child, count_runs, rewind_orch,
    rewind_child, rewind_parent, tagged, version_child, version_parent, entity_caller,
    entity_fail_caller, account_caller, locked_increment, lock_two, lock_and_hold,
]
MAIN_ACTIVITIES = [add_one, square, fail_act, counted_add, flaky_act, run_counter]


def _worker(host: str, orchestrators: list[Any], activities: list[Any],
            entity_fns: list[Any] | None = None) -> dtw.TaskHubGrpcWorker:
    w = dtw.TaskHubGrpcWorker(host_address=host, logger=QUIET)
    for fn in orchestrators:
        w.add_orchestrator(fn)
    for fn in activities:
        w.add_activity(fn)
    for fn in entity_fns or []:
        w.add_entity(fn)
    return w


def _filters(orchestrations: list[tuple[str, list[str]]],
             activities: list[str] | None = None) -> dtw.WorkItemFilters:
    return dtw.WorkItemFilters(
        orchestrations=[dtw.OrchestrationWorkItemFilter(name=n, versions=v)
                        for n, v in orchestrations],
        activities=[dtw.ActivityWorkItemFilter(name=n) for n in activities or []],
        entities=[],
    )


def _main(host: str) -> dtw.TaskHubGrpcWorker:
    return _worker(host, MAIN_ORCHESTRATORS, MAIN_ACTIVITIES, [counter, Account])


def _filter_a(host: str) -> dtw.TaskHubGrpcWorker:
    w = _worker(host, [filt_a, filt_b], [filt_act])
    w.use_work_item_filters(_filters([("filt_a", [])], ["filt_act"]))
    return w


def _filter_b(host: str) -> dtw.TaskHubGrpcWorker:
    w = _worker(host, [filt_b], [])
    w.use_work_item_filters(_filters([("filt_b", [])]))
    return w


def _filter_version(version: str) -> Callable[[str], dtw.TaskHubGrpcWorker]:
    def build(host: str) -> dtw.TaskHubGrpcWorker:
        w = _worker(host, [filt_v], [])
        w.use_work_item_filters(_filters([("filt_v", [version])]))
        return w
    return build


def _filter_auto(host: str) -> dtw.TaskHubGrpcWorker:
    w = _worker(host, [auto_orch], [auto_act])
    w.use_work_item_filters()  # generated from the registry at start()
    return w


def _versioned(options: dtw.VersioningOptions, names: list[str],
               orchestrators: list[Any]) -> Callable[[str], dtw.TaskHubGrpcWorker]:
    def build(host: str) -> dtw.TaskHubGrpcWorker:
        w = _worker(host, orchestrators, [])
        w.use_versioning(options)
        w.use_work_item_filters(_filters([(n, []) for n in names]))
        return w
    return build


def _accept_v1(host: str) -> dtw.TaskHubGrpcWorker:
    w = _worker(host, [v_simple], [])
    w.use_work_item_filters(_filters([("v_simple", ["1.0"])]))
    return w


WORKER_PROFILES: dict[str, Callable[[str], dtw.TaskHubGrpcWorker]] = {
    "main": _main,
    "filter_a": _filter_a,
    "filter_b": _filter_b,
    "filter_v2": _filter_version("2"),
    "filter_v1": _filter_version("1"),
    "filter_auto": _filter_auto,
    "strict_fail": _versioned(
        dtw.VersioningOptions(version="2.0", match_strategy=dtw.VersionMatchStrategy.STRICT,
                              failure_strategy=dtw.VersionFailureStrategy.FAIL),
        ["v_simple"], [v_simple]),
    "current_or_older": _versioned(
        dtw.VersioningOptions(version="2.0", default_version="2.0",
                              match_strategy=dtw.VersionMatchStrategy.CURRENT_OR_OLDER,
                              failure_strategy=dtw.VersionFailureStrategy.FAIL),
        ["v_parent", "v_child"], [v_parent, v_child]),
    "strict_reject": _versioned(
        dtw.VersioningOptions(version="2.0", match_strategy=dtw.VersionMatchStrategy.STRICT,
                              failure_strategy=dtw.VersionFailureStrategy.REJECT),
        ["v_simple"], [v_simple]),
    "accept_v1": _accept_v1,
}


class Workers:
    """The set of running workers; scenarios say which profiles they need."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.running: dict[str, dtw.TaskHubGrpcWorker] = {}

    def ensure(self, profiles: tuple[str, ...]) -> None:
        for name in [n for n in self.running if n not in profiles]:
            self.stop(name)
        for name in profiles:
            self.add(name)

    def add(self, name: str) -> None:
        if name not in self.running:
            w = WORKER_PROFILES[name](self.host)
            w.start()
            self.running[name] = w

    def stop(self, name: str) -> None:
        w = self.running.pop(name)
        stopper = threading.Thread(target=w.stop, daemon=True)
        stopper.start()
        stopper.join(20)

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)


# ---------------------------------------------------------------------------------------------
# Scenario support
# ---------------------------------------------------------------------------------------------

BOOKENDS = {"OrchestratorStartedEvent", "OrchestratorCompletedEvent"}


class Env:
    """What a scenario gets: clients, id helpers, normalizers."""

    def __init__(self, host: str, client: TaskHubGrpcClient, workers: Workers, name: str):
        self.host = host
        self.c = client
        self.workers = workers
        self.prefix = f"{name}-{uuid.uuid4().hex[:10]}"

    # ids -------------------------------------------------------------------------------------
    def id(self, suffix: str = "main") -> str:
        return f"{self.prefix}-{suffix}"

    def norm(self, value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(self.prefix, "<P>")
        if isinstance(value, dict):
            return {self.norm(k): self.norm(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.norm(v) for v in value]
        return value

    # orchestration helpers --------------------------------------------------------------------
    def start(self, orchestrator: Any, value: Any = None, suffix: str = "main",
              **kwargs: Any) -> str:
        return self.c.schedule_new_orchestration(orchestrator, input=value,
                                                 instance_id=self.id(suffix), **kwargs)

    def wait(self, iid: str, timeout: float = T) -> dict[str, Any] | None:
        return summary(self.c.wait_for_orchestration_completion(iid, timeout=timeout))

    def wait_started(self, iid: str) -> str:
        st = self.c.wait_for_orchestration_start(iid, timeout=T)
        return st.runtime_status.name if st else "MISSING"

    def state(self, iid: str, payloads: bool = True) -> dict[str, Any] | None:
        return summary(self.c.get_orchestration_state(iid, fetch_payloads=payloads), payloads)

    def status(self, iid: str) -> str:
        st = self.c.get_orchestration_state(iid, fetch_payloads=False)
        return st.runtime_status.name if st else "MISSING"

    def wait_status(self, iid: str, wanted: set[str], timeout: float = T) -> str:
        """Poll until the status is one of ``wanted``; return the last status seen."""
        deadline = time.monotonic() + timeout
        seen = self.status(iid)
        while seen not in wanted and time.monotonic() < deadline:
            time.sleep(0.1)
            seen = self.status(iid)
        return seen

    def wait_until(self, iid: str, pred: Callable[[dict[str, Any] | None], bool],
                   timeout: float = T) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        seen = self.state(iid)
        while not pred(seen) and time.monotonic() < deadline:
            time.sleep(0.1)
            seen = self.state(iid)
        return seen

    def settle(self, iid: str, timeout: float = T) -> str:
        """Status once it is terminal, or the last one seen (``wait_for`` without raising)."""
        return self.wait_status(iid, {"COMPLETED", "FAILED", "TERMINATED"}, timeout)

    def history(self, iid: str) -> list[Any]:
        return self.c.get_orchestration_history(iid)

    def kinds(self, iid: str) -> list[str]:
        return kinds(self.history(iid))

    def kind_counts(self, iid: str) -> dict[str, int]:
        return dict(sorted(Counter(self.kinds(iid)).items()))

    # entity helpers ---------------------------------------------------------------------------
    def entity(self, eid: EntityInstanceId) -> dict[str, Any] | None:
        md = self.c.get_entity(eid)
        return entity_summary(md)

    def entity_state(self, eid: EntityInstanceId) -> Any:
        md = self.c.get_entity(eid)
        return md.get_typed_state() if md is not None else None

    def wait_entity_state(self, eid: EntityInstanceId, wanted: Any, timeout: float = T) -> Any:
        deadline = time.monotonic() + timeout
        seen = self.entity_state(eid)
        while seen != wanted and time.monotonic() < deadline:
            time.sleep(0.1)
            seen = self.entity_state(eid)
        return seen

    def aclient(self) -> AsyncTaskHubGrpcClient:
        return AsyncTaskHubGrpcClient(host_address=self.host, logger=QUIET)


def summary(st: OrchestrationState | None, payloads: bool = True) -> dict[str, Any] | None:
    if st is None:
        return None
    out: dict[str, Any] = {"name": st.name, "status": st.runtime_status.name}
    if payloads:
        out["input"] = st.get_input()
        out["output"] = st.get_output()
        out["custom_status"] = st.get_custom_status()
        out["failure"] = failure(st.failure_details)
    return out


def failure(fd: task.FailureDetails | None) -> dict[str, Any] | None:
    if fd is None:
        return None
    return {"type": fd.error_type, "message": fd.message}


def kinds(events: list[Any]) -> list[str]:
    """History event kinds without the per-turn bookends, whose number depends on batching."""
    return [type(e).__name__.removesuffix("Event") for e in events
            if type(e).__name__ not in BOOKENDS]


def entity_summary(md: Any) -> dict[str, Any] | None:
    if md is None:
        return None
    return {"id": str(md.id), "state": md.get_typed_state() if md.includes_state else None,
            "includes_state": md.includes_state, "backlog": md.backlog_queue_size,
            "locked": bool(md._locked_by)}


def code(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    """The gRPC status code name of a client call ("OK" if it succeeded)."""
    try:
        fn(*args, **kwargs)
    except grpc.RpcError as e:
        return str(e.code().name)  # type: ignore[attr-defined]
    return "OK"


async def acode(call: Coroutine[Any, Any, Any]) -> str:
    try:
        await call
    except grpc.RpcError as e:
        return str(e.code().name)  # type: ignore[attr-defined]
    return "OK"


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Scenario:
    name: str
    fn: Callable[[Env], Any]
    workers: tuple[str, ...]


SCENARIOS: list[Scenario] = []


def scenario(*workers: str) -> Callable[[Callable[[Env], Any]], Callable[[Env], Any]]:
    def register(fn: Callable[[Env], Any]) -> Callable[[Env], Any]:
        SCENARIOS.append(Scenario(fn.__name__, fn, workers or ("main",)))
        return fn
    return register


# ---------------------------------------------------------------------------------------------
# Scenarios: start / get / wait
# ---------------------------------------------------------------------------------------------


@scenario()
def start_get_wait(env: Env) -> Any:
    value = {"a": 1, "text": "héllo ✓", "list": [1, 2.5, None, True]}
    iid = env.start(echo, value)
    started = env.wait_started(iid)
    done = env.wait(iid)
    return {
        "returned_id": iid == env.id(),
        "started": started in {"RUNNING", "COMPLETED"},
        "done": done,
        "no_payloads": env.state(iid, payloads=False),
        "unknown_state": env.state(env.id("unknown")),
    }


@scenario()
def wait_unknown_instance(env: Env) -> Any:
    def outcome(wait: Callable[..., Any]) -> Any:
        began = time.monotonic()
        try:
            got = summary(wait(env.id("unknown"), timeout=3))
        except TimeoutError:
            got = "TimeoutError"
        # A long poll ends when the server-side wait ends, a hair before or after the
        # client's own deadline: None or TimeoutError by timing alone, so name it by what
        # it did rather than by which of the two won the race.
        return "long poll until the deadline" if time.monotonic() - began >= 2.5 else got
    return {"wait_start": outcome(env.c.wait_for_orchestration_start),
            "wait_completion": outcome(env.c.wait_for_orchestration_completion)}


@scenario()
def empty_orchestration(env: Env) -> Any:
    iid = env.start(empty)
    first = env.wait(iid)
    second = env.wait(iid)  # waiting twice on a completed instance
    return {"first": first, "second": second, "history": env.kinds(iid)}


@scenario()
def async_start_get_wait(env: Env) -> Any:
    async def run() -> Any:
        c = env.aclient()
        try:
            iid = await c.schedule_new_orchestration(echo, input=[1, "two"],
                                                     instance_id=env.id())
            started = await c.wait_for_orchestration_start(iid, timeout=T)
            done = await c.wait_for_orchestration_completion(iid, timeout=T)
            light = await c.get_orchestration_state(iid, fetch_payloads=False)
            unknown = await c.get_orchestration_state(env.id("unknown"))
            history = await c.get_orchestration_history(iid)
            return {
                "started": started is not None
                and started.runtime_status.name in {"RUNNING", "COMPLETED"},
                "done": summary(done), "no_payloads": summary(light, payloads=False),
                "unknown": summary(unknown), "history": kinds(history),
            }
        finally:
            await c.close()
    return asyncio.run(run())


@scenario()
def wait_for_start_running(env: Env) -> Any:
    iid = env.start(wait_one)
    started = env.wait_started(iid)
    env.c.raise_orchestration_event(iid, "go", data={"ok": True})
    return {"started": started, "done": env.wait(iid)}


@scenario()
def wait_completion_timeout(env: Env) -> Any:
    iid = env.start(wait_one)
    env.wait_started(iid)
    try:
        env.c.wait_for_orchestration_completion(iid, timeout=1)
        outcome = "returned"
    except TimeoutError:
        outcome = "TimeoutError"
    status = env.status(iid)
    env.c.terminate_orchestration(iid)
    return {"wait": outcome, "status": status, "after_terminate": env.wait(iid)}


# ---------------------------------------------------------------------------------------------
# Activities, fan-out, sub-orchestrations
# ---------------------------------------------------------------------------------------------


@scenario()
def activity_sequence(env: Env) -> Any:
    iid = env.start(chain, 10)
    return {"done": env.wait(iid), "history": env.kinds(iid)}


@scenario()
def fan_out_fan_in(env: Env) -> Any:
    iid = env.start(fan_out, 10)
    return {"done": env.wait(iid), "history": env.kind_counts(iid)}


@scenario()
def sub_orchestrations(env: Env) -> Any:
    iid = env.start(parent_of_children, 3)
    done = env.wait(iid)
    children = [env.wait(f"{iid}-c{i}") for i in range(3)]
    return {"done": done, "children": children, "history": env.kind_counts(iid),
            "child_history": env.kinds(f"{iid}-c0")}


@scenario()
def sub_orchestration_parent_id(env: Env) -> Any:
    iid = env.start(parent_asks_child_ids)
    return {"done": env.wait(iid), "child": env.wait(f"{iid}:0001")}


@scenario()
def sub_orchestration_failure_caught(env: Env) -> Any:
    iid = env.start(parent_catches_child)
    return {"done": env.wait(iid), "child": env.wait(f"{iid}-child"),
            "history": env.kinds(iid)}


@scenario()
def sub_orchestration_failure_uncaught(env: Env) -> Any:
    iid = env.start(parent_fails_with_child)
    return {"done": env.wait(iid), "child": env.wait(f"{iid}-child")}


# ---------------------------------------------------------------------------------------------
# Timers and external events
# ---------------------------------------------------------------------------------------------


@scenario()
def timer(env: Env) -> Any:
    t0 = time.monotonic()
    iid = env.start(timer_orch, 1.0)
    done = env.wait(iid)
    return {"done": done, "waited": time.monotonic() - t0 >= 0.9, "history": env.kinds(iid)}


@scenario()
def external_events(env: Env) -> Any:
    iid = env.start(wait_events, ["a", "b", "c"])
    env.wait_started(iid)
    for name, value in (("a", 1), ("B", {"two": 2}), ("c", None)):  # names match case-insensitively
        env.c.raise_orchestration_event(iid, name, data=value)
    return {"done": env.wait(iid), "history": env.kinds(iid)}


@scenario()
def raise_before_start(env: Env) -> Any:
    iid = env.start(wait_events, ["x", "y", "z"])
    for name in ("x", "y", "z"):  # raised right away: may arrive before the first turn
        env.c.raise_orchestration_event(iid, name, data=name.upper())
    return {"done": env.wait(iid)}


@scenario()
def external_event_timeout(env: Env) -> Any:
    iid = env.start(event_or_timeout, 1.0)
    return {"done": env.wait(iid), "history": env.kinds(iid)}


@scenario()
def external_event_beats_timer(env: Env) -> Any:
    iid = env.start(event_or_timeout, 10.0)
    env.wait_started(iid)
    env.c.raise_orchestration_event(iid, "approve", data="alice")
    return {"done": env.wait(iid)}


@scenario()
def send_event_between_orchestrations(env: Env) -> Any:
    target = env.start(wait_one, suffix="target")
    env.wait_started(target)
    source = env.start(sender, target, suffix="source")
    return {"source": env.wait(source), "target": env.wait(target),
            "source_history": env.kinds(source), "nobody": env.state(f"{target}-nobody")}


@scenario()
def raise_event_to_completed(env: Env) -> Any:
    iid = env.start(echo, 1)
    env.wait(iid)
    before = env.kinds(iid)
    result = code(env.c.raise_orchestration_event, iid, "late", data=1)
    time.sleep(0.5)
    return {"raise": result, "state": env.state(iid), "history_unchanged": env.kinds(iid) == before}


def _count_or_code(purge: Callable[[], Any]) -> Any:
    try:
        return purge().deleted_instance_count
    except grpc.RpcError as e:
        return str(e.code().name)  # type: ignore[attr-defined]


@scenario()
def errors_unknown_instance(env: Env) -> Any:
    unknown = env.id("unknown")
    c = env.c
    return {
        "raise_event": code(c.raise_orchestration_event, unknown, "x"),
        "suspend": code(c.suspend_orchestration, unknown),
        "resume": code(c.resume_orchestration, unknown),
        "rewind": code(c.rewind_orchestration, unknown),
        "restart": code(c.restart_orchestration, unknown),
        "history": code(c.get_orchestration_history, unknown),
        "purge": _count_or_code(lambda: c.purge_orchestration(unknown)),
    }


# ---------------------------------------------------------------------------------------------
# Terminate, suspend / resume
# ---------------------------------------------------------------------------------------------


@scenario()
def terminate(env: Env) -> Any:
    iid = env.start(wait_one)
    env.wait_started(iid)
    env.c.terminate_orchestration(iid, output={"reason": "stop"})
    done = env.wait(iid)
    again = code(env.c.terminate_orchestration, iid, output="again")  # no-op
    time.sleep(0.3)
    completed = env.start(echo, "kept", suffix="completed")
    env.wait(completed)
    on_completed = code(env.c.terminate_orchestration, completed, output="ignored")
    time.sleep(0.3)
    return {"done": done, "history": env.kinds(iid), "again": again, "after_again": env.state(iid),
            "terminate_completed": on_completed, "completed": env.state(completed)}


@scenario()
def terminate_recursive(env: Env) -> Any:
    iid = env.start(waits_for_children, 2)
    children = [f"{iid}-c{i}" for i in range(2)]
    for child in children:
        env.wait_status(child, {"RUNNING"})
    env.c.terminate_orchestration(iid, output="stop all", recursive=True)
    done = env.wait(iid)
    return {"done": done, "children": [env.settle(child, timeout=5) for child in children]}


@scenario()
def terminate_non_recursive(env: Env) -> Any:
    iid = env.start(waits_for_children, 2)
    children = [f"{iid}-c{i}" for i in range(2)]
    for child in children:
        env.wait_status(child, {"RUNNING"})
    env.c.terminate_orchestration(iid, output="stop parent", recursive=False)
    done = env.wait(iid)
    time.sleep(0.5)
    still = [env.status(child) for child in children]
    for child in children:
        env.c.raise_orchestration_event(child, "go", data="finished anyway")
    return {"done": done, "children_after_terminate": still,
            "children": [env.wait(child) for child in children], "parent": env.state(iid)}


@scenario()
def suspend_resume(env: Env) -> Any:
    iid = env.start(wait_one)
    env.wait_started(iid)
    env.c.suspend_orchestration(iid, reason="pause")
    suspended = env.wait_status(iid, {"SUSPENDED"})
    env.c.raise_orchestration_event(iid, "go", data=42)
    time.sleep(1.0)
    still = env.status(iid)
    env.c.resume_orchestration(iid, reason="continue")
    return {"suspended": suspended, "still_suspended": still, "done": env.wait(iid),
            "history": env.kinds(iid)}


@scenario()
def suspend_twice_then_resume(env: Env) -> Any:
    # Suspending an already-suspended instance must be a no-op: the SDK buffers a second
    # ExecutionSuspended while suspended and replays it after the resume, suspending again.
    iid = env.start(wait_one)
    env.wait_started(iid)
    env.c.suspend_orchestration(iid, reason="pause")
    suspended = env.wait_status(iid, {"SUSPENDED"})
    env.c.suspend_orchestration(iid, reason="pause again")
    time.sleep(0.5)
    env.c.raise_orchestration_event(iid, "go", data="after double suspend")
    env.c.resume_orchestration(iid, reason="continue")
    return {"suspended": suspended, "done": env.wait(iid), "history": env.kinds(iid)}


@scenario()
def suspend_then_terminate(env: Env) -> Any:
    iid = env.start(wait_one)
    env.wait_started(iid)
    env.c.suspend_orchestration(iid)
    suspended = env.wait_status(iid, {"SUSPENDED"})
    env.c.terminate_orchestration(iid, output="terminated while suspended")
    return {"suspended": suspended, "done": env.wait(iid)}


@scenario()
def async_suspend_resume_terminate(env: Env) -> Any:
    async def run() -> Any:
        c = env.aclient()
        try:
            a = await c.schedule_new_orchestration(wait_one, instance_id=env.id("a"))
            await c.wait_for_orchestration_start(a, timeout=T)
            await c.suspend_orchestration(a, reason="async pause")
            suspended = await asyncio.to_thread(env.wait_status, a, {"SUSPENDED"})
            await c.raise_orchestration_event(a, "go", data="async value")
            await asyncio.sleep(0.5)
            still = (await c.get_orchestration_state(a)).runtime_status.name  # type: ignore[union-attr]
            await c.resume_orchestration(a, reason="async resume")
            done_a = await c.wait_for_orchestration_completion(a, timeout=T)
            b = await c.schedule_new_orchestration(wait_one, instance_id=env.id("b"))
            await c.wait_for_orchestration_start(b, timeout=T)
            await c.terminate_orchestration(b, output="async stop")
            done_b = await c.wait_for_orchestration_completion(b, timeout=T)
            unknown = await acode(c.raise_orchestration_event(env.id("unknown"), "go"))
            return {"suspended": suspended, "still": still, "a": summary(done_a),
                    "b": summary(done_b), "raise_unknown": unknown}
        finally:
            await c.close()
    return asyncio.run(run())


# ---------------------------------------------------------------------------------------------
# Continue-as-new, custom status
# ---------------------------------------------------------------------------------------------


@scenario()
def continue_as_new(env: Env) -> Any:
    iid = env.start(can_counter, 0)
    return {"done": env.wait(iid), "history": env.kinds(iid)}


@scenario()
def continue_as_new_save_events(env: Env) -> Any:
    iid = env.start(can_save_events, [])
    for i in range(3):
        env.c.raise_orchestration_event(iid, "item", data=i)
    return {"done": env.wait(iid)}


@scenario()
def continue_as_new_with_activity(env: Env) -> Any:
    iid = env.start(can_activity, 0)
    return {"done": env.wait(iid), "history": env.kinds(iid)}


@scenario()
def continue_as_new_new_version(env: Env) -> Any:
    iid = env.start(can_new_version, 0, version="1.0")
    done = env.wait(iid)
    started = [e for e in env.history(iid) if type(e).__name__ == "ExecutionStartedEvent"]
    return {"done": done, "started_version": [e.version for e in started]}


@scenario()
def custom_status(env: Env) -> Any:
    iid = env.start(custom_status_orch)
    running = env.wait_until(iid, lambda s: bool(s and s["custom_status"]))
    env.c.raise_orchestration_event(iid, "go", data="finished")
    return {"running": running, "done": env.wait(iid)}


# ---------------------------------------------------------------------------------------------
# Failures and retries
# ---------------------------------------------------------------------------------------------


@scenario()
def activity_failure_handled(env: Env) -> Any:
    iid = env.start(activity_failure_caught)
    return {"done": env.wait(iid), "history": env.kinds(iid)}


@scenario()
def activity_failure_unhandled(env: Env) -> Any:
    iid = env.start(activity_failure_uncaught)
    return {"done": env.wait(iid), "history": env.kinds(iid)}


@scenario()
def orchestrator_exception(env: Env) -> Any:
    iid = env.start(orch_raises)
    return {"done": env.wait(iid), "history": env.kinds(iid)}


@scenario()
def activity_not_registered(env: Env) -> Any:
    iid = env.start(calls_unregistered)
    return {"done": env.wait(iid)}


@scenario()
def retry_activity_policy(env: Env) -> Any:
    iid = env.start(retry_activity, 2)
    done = env.wait(iid)
    return {"done": done, "attempts": count(f"{iid}/flaky_act"), "history": env.kinds(iid)}


@scenario()
def retry_activity_policy_exhausted(env: Env) -> Any:
    iid = env.start(retry_activity_exhausted)
    done = env.wait(iid)
    return {"done": done, "attempts": count(f"{iid}/flaky_act"), "history": env.kinds(iid)}


@scenario()
def retry_sub_orchestration_policy(env: Env) -> Any:
    iid = env.start(retry_child, 1)
    done = env.wait(iid)
    return {"done": done, "attempts": count(f"{iid}-child/flaky_child"),
            "child": env.state(f"{iid}-child"), "history": env.kinds(iid)}


# ---------------------------------------------------------------------------------------------
# Purge, query, list
# ---------------------------------------------------------------------------------------------


@scenario()
def purge_by_id(env: Env) -> Any:
    iid = env.start(echo, "x")
    env.wait(iid)
    first = env.c.purge_orchestration(iid)
    gone = env.state(iid)
    second = env.c.purge_orchestration(iid)
    return {"first": [first.deleted_instance_count, first.is_complete], "after": gone,
            "second": second.deleted_instance_count}


@scenario()
def purge_running(env: Env) -> Any:
    running = env.start(wait_one)
    env.wait_started(running)
    on_running = _count_or_code(lambda: env.c.purge_orchestration(running))
    still = env.status(running)
    env.c.terminate_orchestration(running)
    env.wait(running)
    return {"purge": on_running, "status_after": still}


@scenario()
def purge_recursive(env: Env) -> Any:
    iid = env.start(parent_of_children, 2)
    env.wait(iid)
    result = env.c.purge_orchestration(iid, recursive=True)
    return {"deleted": result.deleted_instance_count, "parent": env.state(iid),
            "children": [env.state(f"{iid}-c{i}") for i in range(2)]}


@scenario()
def purge_by_filter(env: Env) -> Any:
    t0 = now()
    time.sleep(0.05)
    ok = [env.start(echo, i, suffix=f"ok{i}") for i in range(3)]
    bad = env.start(orch_raises, suffix="bad")
    running = env.start(wait_one, suffix="running")
    for iid in [*ok, bad]:
        env.wait(iid)
    env.wait_started(running)
    time.sleep(0.05)
    t1 = now()
    completed_only = env.c.purge_orchestrations_by(
        created_time_from=t0, created_time_to=t1, runtime_status=[OrchestrationStatus.COMPLETED])
    after_first = {s: env.status(env.id(s)) for s in ("ok0", "ok1", "ok2", "bad", "running")}
    any_terminal = env.c.purge_orchestrations_by(created_time_from=t0, created_time_to=t1)
    after_second = {s: env.status(env.id(s)) for s in ("bad", "running")}
    env.c.terminate_orchestration(running)
    env.wait(running)
    return {"completed_only": [completed_only.deleted_instance_count, completed_only.is_complete],
            "after_first": after_first, "any_terminal": any_terminal.deleted_instance_count,
            "after_second": after_second}


@scenario()
def async_purge(env: Env) -> Any:
    async def run() -> Any:
        c = env.aclient()
        try:
            iid = await c.schedule_new_orchestration(echo, input=1, instance_id=env.id())
            await c.wait_for_orchestration_completion(iid, timeout=T)
            one = await c.purge_orchestration(iid)
            gone = await c.get_orchestration_state(iid)
            t0 = now()
            await asyncio.sleep(0.05)
            other = await c.schedule_new_orchestration(echo, input=2, instance_id=env.id("f"))
            await c.wait_for_orchestration_completion(other, timeout=T)
            await asyncio.sleep(0.05)
            by = await c.purge_orchestrations_by(created_time_from=t0, created_time_to=now(),
                                                 runtime_status=[OrchestrationStatus.COMPLETED])
            return {"one": one.deleted_instance_count, "gone": gone is None,
                    "by_filter": [by.deleted_instance_count, by.is_complete],
                    "other_after_purge": summary(await c.get_orchestration_state(other))}
        finally:
            await c.close()
    return asyncio.run(run())


def _rows(states: list[OrchestrationState], payloads: bool) -> list[list[Any]]:
    rows = []
    for s in states:
        row: list[Any] = [s.instance_id, s.name, s.runtime_status.name]
        if payloads:
            row += [s.get_input(), s.get_output()]
        else:
            row += [s.serialized_input, s.serialized_output]
        rows.append(row)
    return sorted(rows, key=lambda r: str(r[0]))


@scenario()
def query_instances(env: Env) -> Any:
    t0 = now()
    time.sleep(0.05)
    done = [env.start(echo, {"i": i}, suffix=f"q{i}") for i in range(3)]
    running = env.start(wait_one, "r", suffix="q3")
    for iid in done:
        env.wait(iid)
    env.wait_started(running)
    time.sleep(0.05)
    t1 = now()
    c, p = env.c, env.prefix
    everything = c.get_all_orchestration_states(
        OrchestrationQuery(instance_id_prefix=p, fetch_inputs_and_outputs=True))
    only_running = c.get_all_orchestration_states(
        OrchestrationQuery(instance_id_prefix=p, runtime_status=[OrchestrationStatus.RUNNING]))
    completed = c.get_all_orchestration_states(
        OrchestrationQuery(instance_id_prefix=p, runtime_status=[OrchestrationStatus.COMPLETED,
                                                                 OrchestrationStatus.FAILED]))
    paged = c.get_all_orchestration_states(
        OrchestrationQuery(instance_id_prefix=p, max_instance_count=2))
    window = c.get_all_orchestration_states(
        OrchestrationQuery(instance_id_prefix=p, created_time_from=t0, created_time_to=t1))
    before = c.get_all_orchestration_states(
        OrchestrationQuery(instance_id_prefix=p, created_time_to=t0))
    no_match = c.get_all_orchestration_states(
        OrchestrationQuery(instance_id_prefix=f"{p}-zzz"))
    c.terminate_orchestration(running)
    env.wait(running)
    return {"all": _rows(everything, True), "running": _rows(only_running, False),
            "completed": _rows(completed, False), "paged": _rows(paged, False),
            "window": len(window), "before": len(before), "no_match": len(no_match)}


@scenario()
def async_query_instances(env: Env) -> Any:
    async def run() -> Any:
        c = env.aclient()
        try:
            for i in range(3):
                iid = await c.schedule_new_orchestration(echo, input=i, instance_id=env.id(f"{i}"))
                await c.wait_for_orchestration_completion(iid, timeout=T)
            states = await c.get_all_orchestration_states(OrchestrationQuery(
                instance_id_prefix=env.prefix, fetch_inputs_and_outputs=True,
                max_instance_count=2))
            return _rows(states, True)
        finally:
            await c.close()
    return asyncio.run(run())


@scenario()
def list_instance_ids(env: Env) -> Any:
    t0 = now()
    time.sleep(0.05)
    for i in range(3):
        env.wait(env.start(echo, i, suffix=f"ok{i}"))
        time.sleep(0.02)
    env.wait(env.start(orch_raises, suffix="bad"))
    running = env.start(wait_one, suffix="running")
    env.wait_started(running)
    time.sleep(0.05)
    t1 = now()
    pages: list[list[str]] = []
    token = None
    while len(pages) < 50:
        page = env.c.list_instance_ids(completed_time_from=t0, completed_time_to=t1,
                                       page_size=2, continuation_token=token)
        pages.append(page.items)
        token = page.continuation_token
        if not token:
            break
    listed = [i for p in pages for i in p if i.startswith(env.prefix)]
    failed = env.c.list_instance_ids(runtime_status=[OrchestrationStatus.FAILED],
                                     completed_time_from=t0, completed_time_to=t1)
    env.c.terminate_orchestration(running)
    env.wait(running)
    return {"listed_in_completion_order": listed, "paged": len(pages) >= 2,
            "failed": [i for i in failed.items if i.startswith(env.prefix)]}


# ---------------------------------------------------------------------------------------------
# Restart, rewind, id reuse, scheduled start
# ---------------------------------------------------------------------------------------------


@scenario()
def restart_same_id(env: Env) -> Any:
    iid = env.start(count_runs, env.prefix)
    first = env.wait(iid)
    returned = env.c.restart_orchestration(iid)
    second = env.wait_until(iid, lambda s: bool(s and s["output"] == 2))
    running = env.start(wait_one, suffix="running")
    env.wait_started(running)
    on_running = code(env.c.restart_orchestration, running)
    env.c.terminate_orchestration(running)
    env.wait(running)
    return {"first": first, "same_id": returned == iid, "second": second,
            "restart_running": on_running}


@scenario()
def restart_new_id(env: Env) -> Any:
    iid = env.start(count_runs, env.prefix)
    first = env.wait(iid)
    new_id = env.c.restart_orchestration(iid, restart_with_new_instance_id=True)
    new_done = env.wait(new_id)
    return {"first": first, "new_id_differs": new_id != iid, "new": new_done,
            "original": env.state(iid)}


@scenario()
def rewind_failed_orchestration(env: Env) -> Any:
    iid = env.start(rewind_orch)
    failed = env.wait(iid)
    env.c.rewind_orchestration(iid, reason="try again")
    done = env.wait_until(iid, lambda s: bool(s and s["status"] not in {"FAILED", "RUNNING"}))
    completed = env.start(echo, 1, suffix="completed")
    env.wait(completed)
    return {"failed": failed, "done": done,
            "counted_add_calls": count(f"{iid}/counted_add"),
            "flaky_calls": count(f"{iid}/flaky_act"),
            "rewind_completed": code(env.c.rewind_orchestration, completed)}


@scenario()
def rewind_failed_sub_orchestration(env: Env) -> Any:
    iid = env.start(rewind_parent)
    failed = env.wait(iid)
    child_failed = env.wait(f"{iid}-child")
    env.c.rewind_orchestration(iid, reason="retry the child")
    done = env.wait_until(iid, lambda s: bool(s and s["status"] not in {"FAILED", "RUNNING"}))
    return {"failed": failed, "child_failed": child_failed, "done": done,
            "child": env.state(f"{iid}-child"),
            "counted_add_calls": count(f"{iid}/counted_add")}


@scenario()
def rewind_purged_sub_orchestration(env: Env) -> Any:
    # The failed child is purged before the rewind: it is created again from the parent's
    # SubOrchestrationInstanceCreated (same id, name and input) and the parent completes.
    iid = env.start(rewind_parent)
    failed = env.wait(iid)
    child_id = f"{iid}-child"
    child_failed = env.wait(child_id)
    purged = env.c.purge_orchestration(child_id, recursive=False).deleted_instance_count
    gone = env.state(child_id)
    env.c.rewind_orchestration(iid, reason="retry the purged child")
    done = env.wait_until(iid, lambda s: bool(s and s["status"] not in {"FAILED", "RUNNING"}))
    return {"failed": failed, "child_failed": child_failed, "purged": purged, "gone": gone,
            "done": done, "child": env.state(child_id),
            "counted_add_calls": count(f"{iid}/counted_add")}


@scenario()
def duplicate_start(env: Env) -> Any:
    iid = env.start(wait_one)
    env.wait_started(iid)
    on_running = code(env.start, echo, "dup")
    env.c.raise_orchestration_event(iid, "go", data="first run")
    first = env.wait(iid)
    on_completed = code(env.start, echo, "dup")
    return {"on_running": on_running, "on_completed": on_completed, "first": first,
            "after": env.state(iid)}


COMPLETED_ONLY = pb.OrchestrationIdReusePolicy(
    replaceableStatus=[pb.ORCHESTRATION_STATUS_COMPLETED])
ANY_STATUS = pb.OrchestrationIdReusePolicy(replaceableStatus=[
    pb.ORCHESTRATION_STATUS_RUNNING, pb.ORCHESTRATION_STATUS_PENDING,
    pb.ORCHESTRATION_STATUS_SUSPENDED, pb.ORCHESTRATION_STATUS_COMPLETED,
    pb.ORCHESTRATION_STATUS_FAILED, pb.ORCHESTRATION_STATUS_TERMINATED])


@scenario()
def id_reuse_replace_completed(env: Env) -> Any:
    iid = env.start(echo, "first")
    env.wait(iid)
    replaced = code(env.start, echo, "second", reuse_id_policy=COMPLETED_ONLY)
    after = env.wait_until(iid, lambda s: bool(s and s["output"] == "second"))
    return {"replace_completed": replaced, "after": after}


@scenario()
def id_reuse_replace_running(env: Env) -> Any:
    iid = env.start(wait_one)
    env.wait_started(iid)
    refused = code(env.start, echo, "nope", reuse_id_policy=COMPLETED_ONLY)
    replaced = code(env.start, echo, "replaced", reuse_id_policy=ANY_STATUS)
    after = env.wait_until(iid, lambda s: bool(s and s["output"] == "replaced"), timeout=5)
    if after and after["status"] not in {"COMPLETED", "FAILED", "TERMINATED"}:
        env.c.terminate_orchestration(iid)
    return {"refuse_running": refused, "replace_running": replaced, "after": after}


@scenario()
def scheduled_start(env: Env) -> Any:
    start_at = now() + timedelta(seconds=3)
    iid = env.start(echo, "later", start_at=start_at)
    time.sleep(0.7)
    early = env.status(iid)
    done = env.wait(iid)
    return {"status_before_start_at": early, "done": done,
            "completed_not_before_start_at": now() >= start_at - timedelta(milliseconds=100)}


# ---------------------------------------------------------------------------------------------
# History, tags, versioning
# ---------------------------------------------------------------------------------------------


def _event_fields(event: Any) -> dict[str, Any]:
    d = event.to_dict()
    for noisy in ("timestamp", "event_id", "orchestration_instance", "parent_trace_context",
                  "orchestration_span_id", "fire_at", "scheduled_start_timestamp"):
        d.pop(noisy, None)
    return {"kind": type(event).__name__.removesuffix("Event"), **d}


@scenario()
def get_history(env: Env) -> Any:
    iid = env.start(chain, 1)
    env.wait(iid)
    events = [_event_fields(e) for e in env.history(iid)
              if type(e).__name__ not in BOOKENDS]
    return {"events": events}


@scenario()
def async_get_history(env: Env) -> Any:
    async def run() -> Any:
        c = env.aclient()
        try:
            iid = await c.schedule_new_orchestration(fan_out, input=3, instance_id=env.id())
            await c.wait_for_orchestration_completion(iid, timeout=T)
            events = await c.get_orchestration_history(iid)
            missing = await acode(c.get_orchestration_history(env.id("unknown")))
            return {"kinds": dict(sorted(Counter(kinds(events)).items())), "missing": missing}
        finally:
            await c.close()
    return asyncio.run(run())


@scenario()
def tags(env: Env) -> Any:
    iid = env.start(tagged, tags={"owner": "diff", "run": "x"})
    done = env.wait(iid)
    events = env.history(iid)
    started = [e.tags for e in events if type(e).__name__ == "ExecutionStartedEvent"]
    scheduled = [e.tags for e in events if type(e).__name__ == "TaskScheduledEvent"]
    return {"done": done, "execution_started_tags": started, "task_scheduled_tags": scheduled}


@scenario()
def versioning(env: Env) -> Any:
    explicit = env.start(version_parent, version="1.5", suffix="explicit")
    unversioned = env.start(version_child, suffix="none")
    defaulted_client = TaskHubGrpcClient(host_address=env.host, default_version="3.0",
                                         logger=QUIET)
    try:
        defaulted = defaulted_client.schedule_new_orchestration(
            version_child, instance_id=env.id("defaulted"))
    finally:
        defaulted_client.close()
    child_started = [e.version for e in env.history(f"{explicit}-child")
                     if type(e).__name__ == "ExecutionStartedEvent"] if env.wait(
                         f"{explicit}-child") else None
    return {"explicit": env.wait(explicit), "none": env.wait(unversioned),
            "defaulted": env.wait(defaulted), "child_started_version": child_started}


# ---------------------------------------------------------------------------------------------
# Durable entities
# ---------------------------------------------------------------------------------------------


@scenario()
def entity_signal_and_get(env: Env) -> Any:
    eid = EntityInstanceId("counter", env.id("e"))
    for value in (1, 2, 3):
        env.c.signal_entity(eid, "add", input=value)
    state = env.wait_entity_state(eid, 6)
    time.sleep(0.2)
    md = env.entity(eid)
    light = entity_summary(env.c.get_entity(eid, include_state=False))
    missing = env.c.get_entity(EntityInstanceId("counter", env.id("missing")))
    return {"state": state, "metadata": md, "without_state": light, "missing": missing}


@scenario()
def async_entity_signal_and_get(env: Env) -> Any:
    async def run() -> Any:
        c = env.aclient()
        try:
            eid = EntityInstanceId("Account", env.id("acct"))
            await c.signal_entity(eid, "deposit", input=10)
            await c.signal_entity(eid, "deposit", input=5)
            deadline = time.monotonic() + T
            md = await c.get_entity(eid)
            while (md is None or md.get_typed_state() != 15) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                md = await c.get_entity(eid)
            missing = await c.get_entity(EntityInstanceId("Account", env.id("none")))
            return {"metadata": entity_summary(md), "missing": missing}
        finally:
            await c.close()
    return asyncio.run(run())


@scenario()
def entity_query(env: Env) -> Any:
    keys = [env.id(f"k{i}") for i in range(3)]
    for i, key in enumerate(keys):
        env.c.signal_entity(EntityInstanceId("counter", key), "set", input=(i + 1) * 10)
    for i, key in enumerate(keys):
        env.wait_entity_state(EntityInstanceId("counter", key), (i + 1) * 10)
    starts = f"@counter@{env.prefix}"
    with_state = env.c.get_all_entities(EntityQuery(instance_id_starts_with=starts))
    without = env.c.get_all_entities(EntityQuery(instance_id_starts_with=starts,
                                                 include_state=False))
    paged = env.c.get_all_entities(EntityQuery(instance_id_starts_with=starts, page_size=1))
    none = env.c.get_all_entities(EntityQuery(instance_id_starts_with=f"{starts}-zzz"))

    def rows(mds: list[Any]) -> list[Any]:
        return sorted(([str(m.id), m.get_typed_state() if m.includes_state else None]
                       for m in mds), key=lambda r: str(r[0]))
    return {"with_state": rows(with_state), "without_state": rows(without),
            "paged": rows(paged), "none": len(none)}


@scenario()
def entity_clean_storage(env: Env) -> Any:
    eid = EntityInstanceId("counter", env.id("clean"))
    env.c.signal_entity(eid, "set", input=7)
    had = env.wait_entity_state(eid, 7)
    env.c.signal_entity(eid, "delete")
    cleared = env.wait_entity_state(eid, None)
    time.sleep(0.2)
    result = env.c.clean_entity_storage(remove_empty_entities=True, release_orphaned_locks=True)
    listed = env.c.get_all_entities(EntityQuery(instance_id_starts_with=str(eid),
                                                include_transient=True))
    return {"had": had, "cleared": cleared, "after_clean": env.c.get_entity(eid),
            "listed_after_clean": len(listed),
            "result_is_counts": isinstance(result.empty_entities_removed, int)
            and isinstance(result.orphaned_locks_released, int)}


@scenario()
def entity_delayed_signal(env: Env) -> Any:
    eid = EntityInstanceId("counter", env.id("later"))
    env.c.signal_entity(eid, "add", input=5, signal_time=now() + timedelta(seconds=2))
    time.sleep(0.5)
    early = env.entity_state(eid)
    return {"early": early, "final": env.wait_entity_state(eid, 5)}


@scenario()
def entity_called_from_orchestration(env: Env) -> Any:
    key = env.id("calls")
    iid = env.start(entity_caller, key)
    done = env.wait(iid)
    return {"done": done, "state": env.wait_entity_state(EntityInstanceId("counter", key), 15),
            "history": env.kind_counts(iid)}


@scenario()
def entity_operation_failure(env: Env) -> Any:
    iid = env.start(entity_fail_caller, env.id("failing"))
    return {"done": env.wait(iid)}


@scenario()
def entity_class_based(env: Env) -> Any:
    key = env.id("acct")
    eid = EntityInstanceId("Account", key)
    env.c.signal_entity(eid, "deposit", input=20)
    env.c.signal_entity(eid, "deposit", input=22)
    state = env.wait_entity_state(eid, 42)
    iid = env.start(account_caller, key)
    return {"state": state, "done": env.wait(iid)}


@scenario()
def entity_starts_orchestration(env: Env) -> Any:
    eid = EntityInstanceId("counter", env.id("starter"))
    spawned = env.id("spawned")
    env.c.signal_entity(eid, "start_orch", input={"id": spawned, "input": "from entity"})
    deadline = time.monotonic() + T
    while env.state(spawned) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return {"spawned": env.wait(spawned)}


@scenario()
def entity_lock_critical_section(env: Env) -> Any:
    key = env.id("shared")
    a = env.start(locked_increment, [key, 3], suffix="a")
    b = env.start(locked_increment, [key, 3], suffix="b")
    done = [env.wait(a), env.wait(b)]
    time.sleep(0.3)
    two = env.start(lock_two, [env.id("x"), env.id("y")], suffix="two")
    return {"done": done, "entity": env.entity(EntityInstanceId("counter", key)),
            "lock_two": env.wait(two), "lock_two_history": env.kind_counts(two)}


@scenario()
def entity_lock_isolation(env: Env) -> Any:
    key = env.id("held")
    eid = EntityInstanceId("counter", key)
    env.c.signal_entity(eid, "set", input=1)
    env.wait_entity_state(eid, 1)
    iid = env.start(lock_and_hold, key)
    holding = env.wait_until(iid, lambda s: bool(s and s["custom_status"] == "locked"))
    locked = env.entity(eid)
    env.c.signal_entity(eid, "add", input=100)  # must wait until the lock is released
    time.sleep(1.0)
    env.c.raise_orchestration_event(iid, "release")
    done = env.wait(iid)
    return {"holding": holding["custom_status"] if holding else None,
            "locked_while_held": locked["locked"] if locked else None,
            "done": done, "final": env.wait_entity_state(eid, 101)}


# ---------------------------------------------------------------------------------------------
# Work-item filters, versioning strategies, abandon (special worker profiles; keep them last)
# ---------------------------------------------------------------------------------------------


@scenario("filter_a")
def work_item_filters_by_name(env: Env) -> Any:
    a = env.start("filt_a", 1, suffix="a")
    done_a = env.wait(a)
    b = env.start("filt_b", 2, suffix="b")
    time.sleep(1.5)
    pending = env.status(b)
    env.workers.add("filter_b")
    return {"a": done_a, "b_while_filtered": pending, "b": env.wait(b)}


@scenario("filter_v2")
def work_item_filters_by_version(env: Env) -> Any:
    v2 = env.start("filt_v", suffix="v2", version="2")
    done_v2 = env.wait(v2)
    v1 = env.start("filt_v", suffix="v1", version="1")
    time.sleep(1.5)
    pending = env.status(v1)
    env.workers.add("filter_v1")
    return {"v2": done_v2, "v1_while_filtered": pending, "v1": env.wait(v1)}


@scenario("filter_auto")
def work_item_filters_from_registry(env: Env) -> Any:
    ok = env.start("auto_orch", "x", suffix="ok")
    done = env.wait(ok)
    other = env.start("filt_b", "y", suffix="other")  # not in this worker's registry
    time.sleep(1.5)
    return {"registered": done, "unregistered_status": env.status(other)}


@scenario("strict_fail")
def versioning_strict_fail(env: Env) -> Any:
    match = env.start("v_simple", suffix="match", version="2.0")
    mismatch = env.start("v_simple", suffix="mismatch", version="1.0")
    return {"match": env.wait(match), "mismatch": env.wait(mismatch)}


@scenario("current_or_older")
def versioning_current_or_older(env: Env) -> Any:
    older = env.start("v_parent", suffix="older", version="1.0")
    newer = env.start("v_parent", suffix="newer", version="3.0")
    return {"older": env.wait(older), "newer": env.wait(newer),
            "child": env.state(f"{older}-child")}


@scenario("strict_reject")
def versioning_reject_abandons(env: Env) -> Any:
    iid = env.start("v_simple", suffix="reject", version="1.0")
    time.sleep(2.0)
    while_rejected = env.status(iid)
    env.workers.add("accept_v1")  # the abandoned work item must be re-dispatched to it
    return {"while_rejected": while_rejected, "done": env.wait(iid)}


# ---------------------------------------------------------------------------------------------
# Runner
# ---------------------------------------------------------------------------------------------


def _error(e: BaseException) -> str:
    if isinstance(e, grpc.RpcError):
        return f"RpcError {e.code().name}: {e.details()}"  # type: ignore[attr-defined]
    return f"{type(e).__name__}: {e}"


def run_one(host: str, client: TaskHubGrpcClient, workers: Workers, sc: Scenario) -> Any:
    env = Env(host, client, workers, sc.name)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["outcome"] = sc.fn(env)
        except BaseException as e:  # noqa: BLE001 - one failing scenario must not hide the rest
            box["outcome"] = {"error": _error(e)}

    thread = threading.Thread(target=target, name=f"scenario-{sc.name}", daemon=True)
    thread.start()
    thread.join(SCENARIO_TIMEOUT)
    if thread.is_alive():
        return {"error": f"ScenarioTimeout: still running after {SCENARIO_TIMEOUT:.0f}s"}
    return env.norm(box["outcome"])


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if len(sys.argv) > 1 and sys.argv[1] == "--list":
        print(json.dumps([s.name for s in SCENARIOS]))
        return
    host = sys.argv[1]
    wanted = set(sys.argv[2:])
    unknown = wanted - {s.name for s in SCENARIOS}
    if unknown:
        raise SystemExit(f"unknown scenarios: {sorted(unknown)}")
    selected = [s for s in SCENARIOS if not wanted or s.name in wanted]
    client = TaskHubGrpcClient(host_address=host, logger=QUIET)
    workers = Workers(host)
    results: dict[str, Any] = {}
    timings: dict[str, float] = {}
    started = time.monotonic()
    for sc in selected:
        if time.monotonic() - started > RUN_BUDGET:
            results[sc.name] = {"error": f"Skipped: run budget of {RUN_BUDGET:.0f}s exhausted"}
            continue
        t0 = time.monotonic()
        try:
            workers.ensure(sc.workers)
            results[sc.name] = run_one(host, client, workers, sc)
        except BaseException as e:  # noqa: BLE001
            results[sc.name] = {"error": _error(e)}
        timings[sc.name] = round(time.monotonic() - t0, 2)
        print(f"[diff] {sc.name}: {timings[sc.name]}s", file=sys.stderr, flush=True)
    workers.stop_all()
    print(json.dumps(results, sort_keys=True, default=repr), flush=True)
    # Worker threads and abandoned scenario threads must not keep the process alive.
    os._exit(0)


if __name__ == "__main__":
    main()
