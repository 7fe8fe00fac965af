"""start-burst, idle and recovery: wfsidecar at scale, the daemon alone.

Usage: .venv/bin/python bench/scale.py [start-burst|idle|recovery ...] [--quick]
(no name: all three). Each starts its own daemon (``python -m wfsidecar run``) on a fresh
SQLite file in a temporary directory, WAL with synchronous FULL, and drives it over the Dapr
listener with raw gRPC stubs of this repo's protos and a synthetic worker that answers every
work item at once (bench/_scale_parts.py), so what is timed is the daemon, not an SDK's
replay. Daemon CPU is its utime+stime from /proc/<pid>/stat (10 ms clock ticks), memory its
VmRSS from /proc/<pid>/status.

- start-burst: 10,000 StartInstance calls, at most 500 outstanding, no worker connected. A
  start returns only after its commit, so the time until the last one returned is the time
  until all are durable; then the instance rows in the file are counted (must be 10,000).
  Prints starts/s, that time and the daemon's CPU per start.
- idle: 10,000 instances whose first turn (run by the worker) schedules nothing, so each
  waits for an external event. ``actors.idle_timeout`` is set short
  (WFSIDECAR_ACTORS__IDLE_TIMEOUT). Prints the daemon's RSS before the starts, while all are
  resident (2 s after the last first turn), and after idle unload (3 s after the last could
  expire), the bytes per instance of each over before, and the daemon's CPU over 10 s while
  all wait and are resident.
- recovery: 1,000 seq3 workflows (three sequential activities) are started with no worker;
  the worker connects and once 1,000 workflow turns were acknowledged the daemon is killed
  with SIGKILL, then restarted on the same file and port while the worker keeps
  reconnecting. Prints the workflows in flight at the kill and the time from the restart's
  spawn to ready (its ready file), to the first workflow turn acknowledged, and to drained
  (all 1,000 completed), plus drained minus ready; then checks the file (1,000 completed).
  Not drained 60 s after the restart, it says so with the progress made (and ``nan`` below).

With the worker connected, starts go at most 100 at a time: at 500 outstanding some start
and workflow-turn answers came back CANCELLED from the daemon and those turns were not sent
again (see the README). Starts are retried on CANCELLED/UNAVAILABLE and the retries counted.

The last line: ``start_burst_per_s=<x> idle_bytes_per_unloaded=<y>
recovery_drain_after_ready_s=<z>`` (one line).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._probe import cpu_seconds  # noqa: E402
from bench._scale_parts import Daemon, Worker, count, rss_kb, start_burst  # noqa: E402

WINDOW = 500  # outstanding starts with no worker connected
WORKER_WINDOW = 100  # with the worker connected (see the README: 500 gets CANCELLED answers)
IDLE_TIMEOUT_S = 20.0
IDLE_CPU_WINDOW_S = 10.0
DRAIN_LIMIT_S = 60.0  # recovery: report "not drained" after this long


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def burst(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="wfsidecar-burst-") as tmp:
        daemon = Daemon(Path(tmp), free_port())
        daemon.start()
        try:
            await start_burst(daemon.port, ["warm-0"], "burst", 1)
            cpu0 = cpu_seconds(daemon.pid)
            seconds, retried = await start_burst(daemon.port,
                                                 [f"burst-{i}" for i in range(n)],
                                        "burst", WINDOW)
            cpu = cpu_seconds(daemon.pid) - cpu0
            stored = count(daemon.db, "SELECT count(*) FROM instances") - 1
        finally:
            daemon.stop()
    if stored != n:
        raise SystemExit(f"start-burst: {stored} instances in the file, expected {n}")
    print(f"start-burst N={n} ({WINDOW} outstanding, no worker): {n / seconds:,.0f} starts/s, "
          f"all durable after {seconds:.2f} s, daemon CPU {cpu * 1e6 / n:,.0f} µs/start "
          f"({cpu:.2f} s); {stored:,} instance rows in the file; {retried} starts retried",
          flush=True)
    return {"per_s": n / seconds}


async def idle(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="wfsidecar-idle-") as tmp:
        daemon = Daemon(Path(tmp), free_port(), "--metrics-port", "0",
                        WFSIDECAR_ACTORS__IDLE_TIMEOUT=f"{IDLE_TIMEOUT_S:g}s")
        daemon.start()
        worker = Worker(daemon.port, "wait")
        worker.start()
        try:
            await asyncio.sleep(1)
            before = rss_kb(daemon.pid)
            seconds, retried = await start_burst(
                daemon.port, [f"idle-{i}" for i in range(n)], "waiter", WORKER_WINDOW)
            await worker.wait_for(lambda: worker.turns >= n, 300)
            last_turn = worker.turn_times[-1]
            await asyncio.sleep(2)
            resident = rss_kb(daemon.pid)
            active = daemon.actors_active()
            cpu0 = cpu_seconds(daemon.pid)
            await asyncio.sleep(IDLE_CPU_WINDOW_S)
            idle_cpu = cpu_seconds(daemon.pid) - cpu0
            await asyncio.sleep(max(0.0, last_turn + IDLE_TIMEOUT_S + 3 - time.monotonic()))
            after = rss_kb(daemon.pid)
            active_after = daemon.actors_active()
            cpu1 = cpu_seconds(daemon.pid)
            await asyncio.sleep(IDLE_CPU_WINDOW_S / 2)
            unloaded_cpu = cpu_seconds(daemon.pid) - cpu1
            running = count(daemon.db, "SELECT count(*) FROM instances WHERE completed_ms IS NULL")
        finally:
            await worker.stop()
            daemon.stop()
    per_resident = (resident - before) * 1024 / n
    per_unloaded = (after - before) * 1024 / n
    print(f"idle N={n} waiting on an event (started in {seconds:.1f} s, {retried} starts "
          f"retried, first turns by the "
          f"worker; idle_timeout {IDLE_TIMEOUT_S:g} s; {running:,} not completed in the file):")
    print(f"  daemon RSS before {before / 1024:.1f} MB, resident {resident / 1024:.1f} MB "
          f"({per_resident:,.0f} B/instance, {active:,} activations), after idle unload "
          f"{after / 1024:.1f} MB ({per_unloaded:,.0f} B/instance, {active_after:,} activations)")
    print(f"  daemon CPU while all wait: {idle_cpu * 1000:.0f} ms over {IDLE_CPU_WINDOW_S:g} s "
          f"resident, {unloaded_cpu * 1000:.0f} ms over {IDLE_CPU_WINDOW_S / 2:g} s unloaded",
          flush=True)
    return {"per_unloaded": per_unloaded}


async def recovery(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="wfsidecar-recovery-") as tmp:
        daemon = Daemon(Path(tmp), free_port())
        daemon.start()
        worker = Worker(daemon.port, "seq3")
        try:
            _, retried = await start_burst(daemon.port, [f"seq3-{i}" for i in range(n)],
                                           "seq3", WINDOW)
            worker.start()
            await worker.wait_for(lambda: worker.turns >= n, 300)
            daemon.kill9()
            in_flight = n - len(worker.done)
            began = time.monotonic()
            ready_s = await asyncio.to_thread(daemon.start)
            turns = worker.turns
            await worker.wait_for(lambda: worker.turns > turns, 120)
            first_s = worker.turn_times[turns] - began
            drained = await worker.wait_for(lambda: len(worker.done) >= n, DRAIN_LIMIT_S,
                                            fail=False)
            drained_s = time.monotonic() - began
            done_after = len(worker.done)
        finally:
            await worker.stop()
            daemon.stop()
        completed = count(daemon.db,
                          "SELECT count(*) FROM instances WHERE completed_ms IS NOT NULL")
    print(f"recovery N={n} seq3, SIGKILL with {in_flight:,} in flight ({retried} starts "
          f"retried): from restart to ready {ready_s:.2f} s, to first completed turn "
          f"{first_s:.2f} s, ", end="")
    if not drained:
        print(f"NOT drained after {DRAIN_LIMIT_S:g} s: {done_after:,} of {n:,} completed, "
              f"{worker.turns - turns:,} turns since the restart, refused answers "
              f"{worker.failed}", flush=True)
        return {"drain_after_ready": float("nan")}
    if completed != n:
        raise SystemExit(f"recovery: {completed} completed in the file, expected {n}")
    print(f"to drained {drained_s:.2f} s (drained {drained_s - ready_s:.2f} s after ready); "
          f"{completed:,} completed in the file", flush=True)
    return {"drain_after_ready": drained_s - ready_s}


BENCHMARKS = {"start-burst": (burst, 10_000, 1_000), "idle": (idle, 10_000, 1_000),
              "recovery": (recovery, 1_000, 200)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="start-burst, idle, recovery (default: all three)")
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    args = parser.parse_args()
    unknown = set(args.names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    results: dict[str, dict[str, float]] = {}
    for name in args.names or list(BENCHMARKS):
        run, size, quick = BENCHMARKS[name]
        results[name] = asyncio.run(run(quick if args.quick else size))
    last = {"start_burst_per_s": ("start-burst", "per_s", 0),
            "idle_bytes_per_unloaded": ("idle", "per_unloaded", 0),
            "recovery_drain_after_ready_s": ("recovery", "drain_after_ready", 2)}
    print(" ".join(f"{key}={results[name][field]:.{digits}f}"
                   for key, (name, field, digits) in last.items() if name in results))


if __name__ == "__main__":
    main()
