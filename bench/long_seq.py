"""long-seq: one workflow of 500 sequential activities, with and without stateful history.

Usage: .venv/bin/python bench/long_seq.py [--steps N]
Starts a daemon on a temporary SQLite file and runs tests/scenarios/history_delta_app.py
(the real ``dapr`` 1.19 worker, which counts what it receives) twice: with the worker's
stateful-history capability on (deltas) and off (full sends). For each it prints the size
of the workflow request the worker received at the first, 100th and last turn, and the
daemon's CPU per step around steps 1, 100 and N: the daemon's utime+stime, read by the
activity at every step, averaged over a window of steps (clock ticks are 10 ms, so single
steps cannot be timed this way). The worker's own time grows with the history (the SDK
replays every event each turn); the daemon's should not.

The last line: ``longseq_cpu_ratio_last_first=<x> longseq_bytes_last_first=<y>`` (deltas on).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.sdk_envs import sdk_python  # noqa: E402

APP = REPO / "tests" / "scenarios" / "history_delta_app.py"
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")
WINDOW = 50


def run(steps: int, *flags: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        ready = Path(tmp) / "ready.json"
        daemon = subprocess.Popen(
            [sys.executable, "-m", "wfsidecar", "run", "--db", str(Path(tmp) / "wf.db"),
             "--dapr-grpc-port", "0", "--durabletask-grpc-port", "0", "--http-port", "0",
             "--ready-file", str(ready), "--log-level", "WARNING"], cwd=tmp)
        try:
            deadline = time.monotonic() + 30
            while not ready.exists():
                if time.monotonic() > deadline or daemon.poll() is not None:
                    raise SystemExit("the daemon did not become ready")
                time.sleep(0.05)
            port = json.loads(ready.read_text())["dapr_grpc_port"]
            env = {**os.environ, "DAPR_GRPC_ENDPOINT": f"localhost:{port}"}
            env.pop("PYTHONPATH", None)
            out = subprocess.run(
                [str(sdk_python("dapr-119")), str(APP), "--steps", str(steps),
                 "--daemon-pid", str(daemon.pid), *flags],
                capture_output=True, text=True, env=env, check=True, timeout=1800)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(30)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    if result["output"] != steps:
        raise SystemExit(f"wrong output {result['output']!r}, expected {steps}")
    return result


def cpu_per_step_ms(stamps: list[list[float]], step: int) -> float:
    """Daemon CPU per step over the window of steps that starts (or ends) at ``step``."""
    first = min(max(step - 1, 0), len(stamps) - 1 - WINDOW)
    ticks = stamps[first + WINDOW][1] - stamps[first][1]
    return ticks * TICK_MS / WINDOW


def wall_per_step_ms(stamps: list[list[float]], step: int) -> float:
    first = min(max(step - 1, 0), len(stamps) - 1 - WINDOW)
    return (stamps[first + WINDOW][0] - stamps[first][0]) * 1000 / WINDOW


def report(label: str, result: dict[str, Any], steps: int) -> tuple[float, float]:
    sizes, stamps = result["sizes"], result["stamps"]
    counts = result["counts"]["long-seq"]
    marks = [1, 100, steps]
    print(f"{label}: {counts['full']} full sends, {counts['delta']} deltas, "
          f"{counts['fetch']} history fetches")
    print("  request bytes per turn  " + "  ".join(
        f"turn {m}: {sizes[min(m, len(sizes)) - 1]}" for m in marks))
    cpu = [cpu_per_step_ms(stamps, m) for m in marks]
    wall = [wall_per_step_ms(stamps, m) for m in marks]
    print("  daemon CPU per step     " + "  ".join(
        f"step {m}: {c:.2f} ms" for m, c in zip(marks, cpu, strict=True)))
    print("  wall per step (worker)  " + "  ".join(
        f"step {m}: {w:.2f} ms" for m, w in zip(marks, wall, strict=True)))
    return cpu[-1] / cpu[0], sizes[-1] / sizes[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args()
    print(f"long-seq: one workflow of {args.steps} sequential activities, dapr 1.19 worker "
          f"(daemon CPU averaged over {WINDOW} steps)")
    with_deltas = report("stateful history (deltas)", run(args.steps), args.steps)
    report("full sends (--no-stateful-history)",
           run(args.steps, "--no-stateful-history"), args.steps)
    print(f"longseq_cpu_ratio_last_first={with_deltas[0]:.2f} "
          f"longseq_bytes_last_first={with_deltas[1]:.2f}")


if __name__ == "__main__":
    main()
