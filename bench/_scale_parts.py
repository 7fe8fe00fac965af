"""The parts of bench/scale.py: a daemon process it can SIGKILL and restart on the same file
and port, a burst of starts, and a synthetic worker that reconnects.

The worker speaks TaskHubSidecarService (the Dapr dialect, as bench/synthetic_seq.py) over one
GetWorkItems stream and answers every work item at once, each answer in its own task so that
many are in flight (group commit sees them together). ``mode`` ``wait``: a workflow's first
turn schedules nothing, so the instance waits for an external event that never comes;
``seq3``: three sequential activities, then the workflow completes. When the stream breaks
(the daemon was killed) it reconnects every 50 ms until the daemon is back.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import grpc

from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb

SERVICE = "/TaskHubSidecarService/"
HEALTH_PING = 3
RETRYABLE = (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE)


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def count(db: Path, sql: str) -> int:
    """One count from the daemon's SQLite file, opened read-only."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


class Daemon:
    """``python -m wfsidecar run`` on ``tmp/wf.db`` (WAL, synchronous FULL) with its Dapr
    listener on ``port``; ``start`` may be called again after ``kill9``."""

    def __init__(self, tmp: Path, port: int, *extra: str, **env: str) -> None:
        self.tmp, self.db, self.port, self.extra = tmp, tmp / "wf.db", port, extra
        self.ready = tmp / "ready.json"
        self.env = {**os.environ, "WFSIDECAR_STORE__SQLITE__SYNCHRONOUS": "FULL", **env}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> float:
        """Start the process; returns seconds from spawn to its ready file."""
        self.ready.unlink(missing_ok=True)
        began = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wfsidecar", "run", "--db", str(self.db),
             "--dapr-grpc-port", str(self.port), "--durabletask-grpc-port", "0",
             "--http-port", "0", "--ready-file", str(self.ready), "--log-level", "ERROR",
             *self.extra],
            cwd=self.tmp, env=self.env)
        while not self.ready.exists():
            if time.monotonic() - began > 60 or self.proc.poll() is not None:
                raise SystemExit("the wfsidecar daemon did not become ready")
            time.sleep(0.005)
        return time.monotonic() - began

    def actors_active(self) -> int:
        """Activations held in memory, from ``GET /metrics`` (start with ``--metrics-port 0``)."""
        port = json.loads(self.ready.read_text())["metrics_port"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as res:
            text = res.read().decode()
        return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines()
                   if line.split("{", 1)[0].endswith("actors_active"))

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _ser(message: Any) -> bytes:
    return bytes(message.SerializeToString())


def channel(port: int) -> grpc.aio.Channel:
    """A channel with a connection of its own (the client and the worker are apart, as if
    they were separate processes; gRPC would otherwise share one TCP connection)."""
    return grpc.aio.insecure_channel(f"127.0.0.1:{port}",
                                     options=[("grpc.use_local_subchannel_pool", 1)])


async def start_burst(port: int, ids: list[str], name: str, window: int) -> tuple[float, int]:
    """Start one instance per id, at most ``window`` start RPCs outstanding (none waits for
    anything but its own commit); returns the seconds until the last one returned and how
    many were retried. A start that failed with CANCELLED or UNAVAILABLE is sent again (once
    more than 5 times for one id it gives up); ALREADY_EXISTS on a retry means the first
    attempt had committed."""
    retried = 0
    async with channel(port) as chan:
        start = chan.unary_unary(SERVICE + "StartInstance", request_serializer=_ser,
                                 response_deserializer=pb.CreateInstanceResponse.FromString)
        slots = asyncio.Semaphore(window)

        async def one(instance_id: str) -> None:
            nonlocal retried
            request = pb.CreateInstanceRequest(instanceId=instance_id, name=name)
            async with slots:
                for attempt in range(6):
                    try:
                        await start(request, timeout=300)
                        return
                    except grpc.aio.AioRpcError as exc:
                        code = exc.code()
                        if attempt and code == grpc.StatusCode.ALREADY_EXISTS:
                            return
                        if code not in RETRYABLE or attempt == 5:
                            raise
                        retried += 1

        began = time.perf_counter()
        await asyncio.gather(*(one(i) for i in ids))
        return time.perf_counter() - began, retried


class Worker:
    """The synthetic worker (see the module doc). ``turns`` counts acknowledged workflow turns,
    ``done`` holds the instances whose completion was acknowledged, ``turn_times`` the
    monotonic time of every acknowledged turn."""

    def __init__(self, port: int, mode: str) -> None:
        self.port, self.mode = port, mode
        self.turns = 0
        self.failed: dict[str, int] = {}  # answers the daemon refused, by status code
        self.done: set[str] = set()
        self.turn_times: list[float] = []
        self._pending: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        for task in [self._task, *self._pending]:
            task.cancel()
        await asyncio.gather(self._task, *self._pending, return_exceptions=True)

    async def wait_for(self, predicate: Any, limit_s: float, fail: bool = True) -> bool:
        """Wait until ``predicate()``; after ``limit_s`` exit (or return False)."""
        deadline = time.monotonic() + limit_s
        while not predicate():
            if time.monotonic() > deadline:
                if not fail:
                    return False
                raise SystemExit(f"worker: timed out (turns {self.turns}, "
                                 f"done {len(self.done)}, refused answers {self.failed})")
            await asyncio.sleep(0.002)
        return True

    async def _run(self) -> None:
        while True:
            try:
                async with channel(self.port) as chan:
                    await self._serve(chan)
            except Exception as exc:  # noqa: BLE001 (the daemon went away: connect again)
                key = f"stream {type(exc).__name__}"
                self.failed[key] = self.failed.get(key, 0) + 1
            await asyncio.sleep(0.05)

    async def _serve(self, chan: grpc.aio.Channel) -> None:
        def unary(method: str) -> Any:
            return chan.unary_unary(SERVICE + method, request_serializer=_ser,
                                    response_deserializer=pb.CompleteTaskResponse.FromString)

        turn, activity = unary("CompleteOrchestratorTask"), unary("CompleteActivityTask")
        stream = chan.unary_stream(SERVICE + "GetWorkItems", request_serializer=_ser,
                                   response_deserializer=pb.WorkItem.FromString)(
            pb.GetWorkItemsRequest(capabilities=[HEALTH_PING]))
        async for item in stream:
            kind = item.WhichOneof("request")
            if kind == "orchestratorRequest":
                self._spawn(self._turn(turn, item))
            elif kind == "activityRequest":
                act = item.activityRequest
                res = pb.ActivityResponse(instanceId=act.orchestrationInstance.instanceId,
                                          taskId=act.taskId,
                                          completionToken=item.completionToken)
                res.result.value = str(int(act.input.value or "0") + 1)
                self._spawn(self._call(activity, res))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _call(self, method: Any, message: Any) -> bool:
        try:
            await method(message, timeout=60)
            return True
        except grpc.aio.AioRpcError as exc:
            code = exc.code().name  # the daemon died under it: the work item comes again
            self.failed[code] = self.failed.get(code, 0) + 1
            return False

    async def _turn(self, method: Any, item: Any) -> None:
        req = item.orchestratorRequest
        res = pb.OrchestratorResponse(instanceId=req.instanceId,
                                      completionToken=item.completionToken)
        finished = sum(1 for events in (req.pastEvents, req.newEvents)
                       for e in events if e.HasField("taskCompleted"))
        complete = False
        if self.mode == "seq3":
            action = res.actions.add(id=finished)
            if finished < 3:
                action.scheduleTask.name = "step"
                action.scheduleTask.input.value = json.dumps(finished)
            else:
                complete = True
                action.completeOrchestration.orchestrationStatus = (
                    pb.ORCHESTRATION_STATUS_COMPLETED)
                action.completeOrchestration.result.value = json.dumps(finished)
        if await self._call(method, res):
            self.turns += 1
            self.turn_times.append(time.monotonic())
            if complete:
                self.done.add(req.instanceId)
