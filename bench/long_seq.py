"""long-seq: one workflow of 500 sequential activities, with and without stateful history.

Usage: .venv/bin/python bench/long_seq.py [--steps N]
Each run starts a daemon on a temporary SQLite file. Two workers drive it, each with its
stateful-history capability on (deltas) and off (full sends):
- the real ``dapr`` 1.19 worker (tests/scenarios/history_delta_app.py), which counts from
  inside its process what it receives. Its own time per turn grows with the history (the
  SDK replays every event), and it shares the machine's 2 cores with the daemon;
- a synthetic worker (bench/synthetic_seq.py) that answers at once and keeps what a
  stateful worker keeps: the daemon alone, which is what the ratio is about.
For each it prints the size of the workflow request at the first (empty past), second, 100th
and last turn, and the daemon's CPU per step around steps 1, 100 and N: the daemon's
utime+stime, read by the worker at every activity, averaged over a window of steps (clock
ticks are 10 ms, so single steps cannot be timed this way).

The last line, of the synthetic worker with deltas:
``longseq_cpu_ratio_last_first=<x> longseq_bytes_last_first=<y>`` (bytes: last turn over
the second, the first with a past).
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
SYNTHETIC = REPO / "bench" / "synthetic_seq.py"
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")
WINDOW = 50


def run(steps: int, worker: str, *flags: str) -> dict[str, Any]:
    """Run the workflow on a fresh daemon with ``worker`` ("sdk" or "synthetic")."""
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
            if worker == "sdk":
                env = {**os.environ, "DAPR_GRPC_ENDPOINT": f"localhost:{port}"}
                env.pop("PYTHONPATH", None)
                argv = [str(sdk_python("dapr-119")), str(APP), "--steps", str(steps),
                        "--daemon-pid", str(daemon.pid), *flags]
            else:
                env = {**os.environ, "PYTHONPATH": str(REPO)}
                argv = [sys.executable, str(SYNTHETIC), str(port), str(steps),
                        str(daemon.pid), *flags]
            out = subprocess.run(argv, capture_output=True, text=True, env=env, check=True,
                                 timeout=1800)
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
        f"turn {m}: {sizes[min(m, len(sizes)) - 1]}" for m in [1, 2, *marks[1:]]))
    cpu = [cpu_per_step_ms(stamps, m) for m in marks]
    wall = [wall_per_step_ms(stamps, m) for m in marks]
    print("  daemon CPU per step     " + "  ".join(
        f"step {m}: {c:.2f} ms" for m, c in zip(marks, cpu, strict=True)))
    print("  wall per step (worker)  " + "  ".join(
        f"step {m}: {w:.2f} ms" for m, w in zip(marks, wall, strict=True)))
    return cpu[-1] / cpu[0], sizes[-1] / sizes[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=500)
    args = parser.parse_args()
    print(f"long-seq: one workflow of {args.steps} sequential activities "
          f"(daemon CPU averaged over {WINDOW} steps)")
    print("== the real dapr 1.19 worker (its replay grows with the history and shares the "
          "machine's 2 cores with the daemon)")
    report("stateful history (deltas)", run(args.steps, "sdk"), args.steps)
    report("full sends (--no-stateful-history)",
           run(args.steps, "sdk", "--no-stateful-history"), args.steps)
    print("== a synthetic worker that answers at once (bench/synthetic_seq.py): the daemon alone")
    alone = report("stateful history (deltas)", run(args.steps, "synthetic"), args.steps)
    report("full sends", run(args.steps, "synthetic", "--full"), args.steps)
    print(f"longseq_cpu_ratio_last_first={alone[0]:.2f} "
          f"longseq_bytes_last_first={alone[1]:.2f}")


if __name__ == "__main__":
    main()
