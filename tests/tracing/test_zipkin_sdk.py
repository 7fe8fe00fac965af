"""Traces of workflows run by real SDK workers, received by a Zipkin v2 collector the test
runs (zipkin_collector.py checks every span against Zipkin's model).

Each app uses the OpenTelemetry SDK and exports its own spans to the same collector, so
the test sees the daemon's spans (service ``wfsidecar``) and the SDK's in one trace. The
workflow has activities, a durable timer, a child workflow and a wait for an external
event; the Dapr one spans a SIGKILL of the daemon and its restart on the same database.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.daemon import REPO, WFSIDECAR, Daemon, daemon_args
from tests.sdk_envs import sdk_python
from tests.tracing.zipkin_collector import ZipkinCollector

HERE = REPO / "tests" / "tracing"
Span = dict[str, Any]

pytestmark = [pytest.mark.process, pytest.mark.slow, pytest.mark.timeout(300)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def daemon_env(zipkin: ZipkinCollector) -> dict[str, str]:
    # Only the standard variables: OTEL_EXPORTER_ZIPKIN_ENDPOINT alone turns tracing on.
    return {"OTEL_EXPORTER_ZIPKIN_ENDPOINT": zipkin.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}


@contextmanager
def app_worker(python: Path, app: Path, env: dict[str, str]) -> Iterator[None]:
    worker = subprocess.Popen([str(python), str(app), "work"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        worker.kill()
        worker.wait()


def app_run(python: Path, app: Path, env: dict[str, str], *args: str) -> str:
    out = subprocess.run([str(python), str(app), *args], capture_output=True, text=True,
                         env=env, timeout=150)
    assert out.returncode == 0, out.stderr[-4000:]
    return out.stdout


def service(span: Span) -> str:
    return str(span.get("localEndpoint", {}).get("serviceName", ""))


def ours(spans: list[Span]) -> list[Span]:
    return [s for s in spans if service(s) == "wfsidecar"]


def named(spans: list[Span], name: str) -> Span:
    found = [s for s in ours(spans) if s["name"] == name]
    assert len(found) == 1, (name, [s["name"] for s in ours(spans)])
    return found[0]


def has(name: str) -> Callable[[list[Span]], bool]:
    return lambda spans: any(s["name"] == name for s in ours(spans))


def end(span: Span) -> int:
    return int(span["timestamp"]) + int(span["duration"])


def tree(spans: list[Span], root: Span, depth: int = 0) -> list[str]:
    """The spans under ``root`` as indented lines (the report's picture of a trace)."""
    ms = (int(root["timestamp"]) - int(root.get("_t0", root["timestamp"]))) / 1000
    line = (f"{'  ' * depth}{root['name']} [{root.get('kind') or 'INTERNAL'}, "
            f"{service(root)}] {root['id']} +{ms:.0f}ms {int(root['duration']) / 1000:.0f}ms")
    lines = [line]
    for child in sorted((s for s in spans if s.get("parentId") == root["id"]),
                        key=lambda s: (s["timestamp"], s["name"])):
        lines += tree(spans, {**child, "_t0": root.get("_t0", root["timestamp"])}, depth + 1)
    return lines


def assert_workflow_tree(spans: list[Span], trace_log: Path, *, event_waited: bool,
                         caller: str | None = None) -> None:
    """``caller``: the name of the app's span whose context started the workflow (the
    instance span's parent), if the client sent one."""
    root = named(spans, "orchestration||order")
    child = named(spans, "orchestration||ship")
    reserve, pack = named(spans, "activity||reserve"), named(spans, "activity||pack")
    charge, timer = named(spans, "activity||charge"), named(spans, "timer")
    wait = named(spans, "event||approve")
    print("\n".join(tree(spans, root)))
    # One trace: the daemon's spans and all that hang under them (a client's other calls,
    # such as Microsoft's raise-event span, start traces of their own).
    under = {root["id"]}
    for span in sorted(spans, key=lambda s: s["timestamp"]):
        if span.get("parentId") in under:
            under.add(span["id"])
    assert {s["traceId"] for s in spans if s in ours(spans) or s["id"] in under} \
        == {root["traceId"]}
    assert root["kind"] == "SERVER"
    if caller is None:
        assert "parentId" not in root
    else:
        (calling,) = [s for s in spans if s["name"] == caller and service(s) != "wfsidecar"]
        assert root["parentId"] == calling["id"]
    for span in (reserve, timer, child, wait, charge):
        assert span["parentId"] == root["id"], span["name"]
    assert pack["parentId"] == child["id"]
    assert [reserve["kind"], pack["kind"], charge["kind"], child["kind"]] == ["SERVER"] * 4
    assert timer.get("kind") is None and wait.get("kind") is None  # INTERNAL
    # In the order things happened, each inside its parent.
    order = [reserve, timer, child, wait, charge]
    assert [s["timestamp"] for s in order] == sorted(s["timestamp"] for s in order)
    assert end(reserve) <= timer["timestamp"] + 50_000
    assert timer["duration"] >= 900_000  # the 1 s timer
    for span in (*order, pack):
        parent = child if span is pack else root
        assert parent["timestamp"] <= span["timestamp"] and end(span) <= end(parent) + 1000
    tags = root["tags"]
    assert tags["durabletask.type"] == "orchestration"
    assert tags["durabletask.task.name"] == "order"
    assert tags["durabletask.runtime_status"] == "COMPLETED"
    assert reserve["tags"]["durabletask.task.name"] == "reserve"
    assert reserve["tags"]["durabletask.task.status"] == "Completed"
    assert int(reserve["tags"]["durabletask.task.task_id"]) >= 0
    assert wait["tags"]["wfsidecar.event.waited"] == str(event_waited).lower()
    assert all("o-1" not in json.dumps(s.get("tags", {})) for s in ours(spans))  # no payloads
    # Each activity ran in the context it was handed: the SDK's span for it is a child of
    # the daemon's activity span, in the same trace, and was exported there too.
    seen = [json.loads(line) for line in trace_log.read_text().splitlines()]
    by_activity = {entry["activity"]: entry for entry in seen}
    for activity in (reserve, pack, charge):
        entry = by_activity[activity["tags"]["durabletask.task.name"]]
        assert entry["trace_id"] == root["traceId"]
        assert entry["parent_id"] == activity["id"]
        app_span = [s for s in spans if s["id"] == entry["span_id"]]
        assert app_span and app_span[0]["parentId"] == activity["id"]
        assert service(app_span[0]) != "wfsidecar"


def test_dapr_workflow_traced_across_a_daemon_sigkill(
        tmp_path: Path, spawn: Callable[..., Daemon]) -> None:
    python = sdk_python("dapr-119-otel")
    app = HERE / "dapr_trace_app.py"
    trace_log = tmp_path / "trace.log"
    with ZipkinCollector() as zipkin:
        port = free_port()
        args = daemon_args(tmp_path, "--dapr-grpc-port", str(port))
        first = spawn([*WFSIDECAR, *args], **daemon_env(zipkin))
        first.wait_ready()
        env = {**os.environ, "DAPR_GRPC_ENDPOINT": f"localhost:{port}",
               "TRACE_LOG": str(trace_log), "APP_ZIPKIN_ENDPOINT": zipkin.endpoint}
        env.pop("PYTHONPATH", None)
        with app_worker(python, app, env):
            app_run(python, app, env, "start", "order-1")
            # The child finished and its span went out: the parent now waits for the event.
            before = zipkin.wait_for(has("orchestration||ship"), timeout=60)
            first.kill()
            second = spawn([*WFSIDECAR, *args], **daemon_env(zipkin))
            second.wait_ready()
            app_run(python, app, env, "raise", "order-1")
            status, output = json.loads(app_run(python, app, env, "await", "order-1"))
            assert (status, json.loads(output)) == ("COMPLETED", "charged o-1")
            spans = zipkin.wait_for(has("orchestration||order"))
            second.close()  # drains: whatever is buffered is exported
    assert [e for e in zipkin.errors if e.startswith("wfsidecar/")] == []
    assert_workflow_tree(zipkin.received(), trace_log, event_waited=True)
    # Spans exported before the kill and after the restart name the same instance span.
    root = named(spans, "orchestration||order")
    assert named(before, "orchestration||ship")["parentId"] == root["id"]
    assert named(before, "activity||reserve")["parentId"] == root["id"]
    assert named(before, "timer")["traceId"] == root["traceId"]


def test_microsoft_workflow_traced(tmp_path: Path, spawn: Callable[..., Daemon]) -> None:
    python = sdk_python("durabletask-112-otel")
    app = HERE / "ms_trace_app.py"
    trace_log = tmp_path / "trace.log"
    with ZipkinCollector() as zipkin:
        port = free_port()
        args = daemon_args(tmp_path, "--durabletask-grpc-port", str(port))
        daemon = spawn([*WFSIDECAR, *args], **daemon_env(zipkin))
        daemon.wait_ready()
        env = {**os.environ, "TASKHUB_ADDRESS": f"localhost:{port}",
               "TRACE_LOG": str(trace_log), "APP_ZIPKIN_ENDPOINT": zipkin.endpoint}
        env.pop("PYTHONPATH", None)
        with app_worker(python, app, env):
            status, output = json.loads(app_run(python, app, env, "run", "order-ms"))
            assert (status, json.loads(output)) == ("COMPLETED", "charged o-1")
            zipkin.wait_for(has("orchestration||order"))
            daemon.close()
    # Microsoft's SDK sends null otel.scope.version tags (its tracer has no version): only
    # the daemon's spans are held to Zipkin's model here.
    assert [e for e in zipkin.errors if e.startswith("wfsidecar/")] == []
    # The client's create_orchestration span is the instance span's parent.
    assert_workflow_tree(zipkin.received(), trace_log, event_waited=False,
                         caller="create_orchestration:order")
