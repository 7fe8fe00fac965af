"""A real ``dapr`` 1.19 workflow app that watches how its history arrives (stateful history).

Runs inside the ``dapr-119`` SDK virtualenv, never imported by the project. A gRPC client
interceptor in this process sees every work item the worker receives and every RPC it
makes, and counts, per instance, full sends (no ``cachedHistory``), delta sends and
``GetInstanceHistory`` fetches (what the worker does when its cache misses). It runs one
workflow of ``--steps`` sequential activities and prints one JSON object: the output, the
counts, the size of each workflow request received (in order), and, with ``--daemon-pid``,
the daemon's CPU time (clock ticks) read at every activity call — the benchmark
(bench/long_seq.py) turns that into sidecar CPU per step.

    python history_delta_app.py --steps 20 [--no-stateful-history] [--daemon-pid N]
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections import defaultdict
from typing import Any

import grpc
from dapr.ext import workflow as wf

ENDPOINT = os.environ["DAPR_GRPC_ENDPOINT"]
HOST, PORT = ENDPOINT.rsplit(":", 1)


class Observed:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[str, dict[str, int]] = defaultdict(
            lambda: {"full": 0, "delta": 0, "fetch": 0})
        self.sizes: list[int] = []
        self.cached: list[int] = []

    def work_item(self, item: Any) -> None:
        if item.WhichOneof("request") != "workflowRequest":
            return
        request = item.workflowRequest
        with self.lock:
            kind = "delta" if request.HasField("cachedHistory") else "full"
            self.counts[request.instanceId][kind] += 1
            self.sizes.append(request.ByteSize())
            self.cached.append(request.cachedHistory.eventCount)

    def fetch(self, instance_id: str) -> None:
        with self.lock:
            self.counts[instance_id]["fetch"] += 1


OBSERVED = Observed()


class _Stream:
    """The GetWorkItems call, passed through, with every item shown to ``OBSERVED``."""

    def __init__(self, call: Any) -> None:
        self._call = call

    def __iter__(self) -> _Stream:
        return self

    def __next__(self) -> Any:
        item = next(self._call)
        OBSERVED.work_item(item)
        return item

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)


class Counting(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        if details.method.endswith("/GetInstanceHistory"):
            OBSERVED.fetch(request.instanceId)
        return continuation(details, request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        call = continuation(details, request)
        return _Stream(call) if details.method.endswith("/GetWorkItems") else call


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--no-stateful-history", action="store_true")
    parser.add_argument("--daemon-pid", type=int, default=0)
    args = parser.parse_args()

    runtime = wf.WorkflowRuntime(host=HOST, port=PORT, interceptors=[Counting()],
                                 disable_stateful_history=args.no_stateful_history)
    stamps: list[tuple[float, int]] = []

    @runtime.activity(name="inc")
    def inc(ctx: wf.WorkflowActivityContext, value: int) -> int:
        ticks = cpu_ticks(args.daemon_pid) if args.daemon_pid else 0
        stamps.append((time.perf_counter(), ticks))
        return value + 1

    @runtime.workflow(name="long_seq")
    def long_seq(ctx: wf.DaprWorkflowContext, steps: int):  # type: ignore[no-untyped-def]
        value = 0
        for _ in range(steps):
            value = yield ctx.call_activity(inc, input=value)
        return value

    runtime.start()
    try:
        client = wf.DaprWorkflowClient(host=HOST, port=PORT)
        instance_id = client.schedule_new_workflow(long_seq, input=args.steps,
                                                   instance_id="long-seq")
        state = client.wait_for_workflow_completion(instance_id, timeout_in_seconds=600)
    finally:
        runtime.shutdown()
    assert state is not None
    print(json.dumps({
        "status": state.runtime_status.name,
        "output": json.loads(state.serialized_output) if state.serialized_output else None,
        "counts": OBSERVED.counts,
        "sizes": OBSERVED.sizes,
        "cached": OBSERVED.cached,
        "stamps": stamps,
    }))


if __name__ == "__main__":
    main()
