"""What telemetry costs: seq3 throughput with tracing (ratio 1.0) and metrics on, against
both off, side by side in one run.

Usage: .venv/bin/python bench/telemetry_cost.py [--workflows N] [--concurrency C] [--rounds R]
       [--metrics-only]
Each round starts a fresh daemon per configuration, in alternating order so that drift of
the (shared) machine falls on both alike, and drives N seq3 workflows through the real Dapr
SDK worker (bench/seq3_app.py, as bench/seq3_dapr.py does). "on" has metrics served on a
free port and scraped every second, and tracing at sampling ratio 1.0 exporting to a Zipkin
sink this script runs; if the daemon has no tracing section yet, "on" is metrics alone and
the output says so. Prints per-run lines, the medians, then the on/off ratios of the daemon's
CPU per workflow and of throughput, each paired per round (geometric mean), the last line
being ``telemetry_throughput_ratio=<on/off>`` (the issue's bar: cost <= 10 %).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.sdk_envs import sdk_python  # noqa: E402
from wfsidecar.config import Config  # noqa: E402

TRACING = hasattr(Config(), "tracing") and "--metrics-only" not in sys.argv


class ZipkinSink(BaseHTTPRequestHandler):
    """Takes POST /api/v2/spans as a collector would and counts the spans."""

    spans = 0
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with ZipkinSink.lock:
            ZipkinSink.spans += body.count(b'"traceId"')
        self.send_response(202)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scrape_every(port: int, stop: threading.Event, seen: list[str]) -> None:
    while not stop.wait(1.0):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
            seen[:] = [reply.read().decode()]


def run_once(python: Path, telemetry: bool, args: argparse.Namespace,
             sink_port: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db, ready = Path(tmp) / "wf.db", Path(tmp) / "ready.json"
        argv = [sys.executable, "-m", "wfsidecar", "run", "--db", str(db),
                "--dapr-grpc-port", "0", "--durabletask-grpc-port", "0", "--http-port", "0",
                "--ready-file", str(ready), "--log-level", "WARNING"]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        for name in [n for n in env if n.startswith(("WFSIDECAR_", "OTEL_"))]:
            del env[name]
        if telemetry:
            argv += ["--metrics-port", "0"]
            if TRACING:
                env["WFSIDECAR_TRACING__ZIPKIN_ENDPOINT"] = (
                    f"http://127.0.0.1:{sink_port}/api/v2/spans")
                env["WFSIDECAR_TRACING__SAMPLING_RATIO"] = "1.0"
        daemon = subprocess.Popen(argv, cwd=tmp, env=env)
        try:
            while not ready.exists():
                if daemon.poll() is not None:
                    raise SystemExit(f"daemon exited {daemon.returncode}")
                time.sleep(0.05)
            ports = json.loads(ready.read_text())
            stop, last = threading.Event(), [""]
            scraper = None
            if telemetry:
                scraper = threading.Thread(target=scrape_every,
                                           args=(ports["metrics_port"], stop, last))
                scraper.start()
            spans_before = ZipkinSink.spans
            cpu_before = cpu_seconds(daemon.pid)
            app_env = {**os.environ, "DAPR_GRPC_ENDPOINT": f"localhost:{ports['dapr_grpc_port']}"}
            app_env.pop("PYTHONPATH", None)
            out = subprocess.run([str(python), str(REPO / "bench" / "seq3_app.py"),
                                  str(args.workflows), str(args.concurrency)],
                                 capture_output=True, text=True, env=app_env, check=True)
            cpu = cpu_seconds(daemon.pid) - cpu_before
            stop.set()
            if scraper is not None:
                scraper.join()
            result = json.loads(out.stdout.strip().splitlines()[-1])
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(30)
    if result["completed"] != args.workflows:
        raise SystemExit(f"only {result['completed']} of {args.workflows} completed")
    if telemetry and 'workflow_name="seq3"' not in last[0]:
        raise SystemExit("the metrics scrape never showed a seq3 execution")
    return {"wf_per_s": args.workflows / result["seconds"],
            "cpu_ms_per_wf": 1000 * cpu / (args.workflows + 1),  # +1: the warm-up workflow
            "spans": ZipkinSink.spans - spans_before}


def paired(runs: dict[bool, list[dict[str, float]]], key: str) -> float:
    return statistics.geometric_mean(on[key] / off[key]
                                     for on, off in zip(runs[True], runs[False], strict=True))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workflows", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--metrics-only", action="store_true",
                        help="leave tracing off in the 'on' runs (metrics' own cost)")
    args = parser.parse_args()
    python = sdk_python("dapr-ext-118")
    sink = ThreadingHTTPServer(("127.0.0.1", 0), ZipkinSink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    on_label = ("tracing 1.0 + metrics" if TRACING else "metrics only" if args.metrics_only
                else "metrics only (this daemon has no tracing section yet)")
    runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for round_ in range(args.rounds):
        order = (False, True) if round_ % 2 == 0 else (True, False)
        for telemetry in order:
            run = run_once(python, telemetry, args, sink.server_address[1])
            runs[telemetry].append(run)
            print(f"round {round_ + 1} {'on ' if telemetry else 'off'}: "
                  f"{run['wf_per_s']:.1f} wf/s, daemon {run['cpu_ms_per_wf']:.2f} ms CPU/wf"
                  + (f", {run['spans']:.0f} spans exported" if telemetry and TRACING else ""),
                  flush=True)
    sink.shutdown()
    if TRACING and not all(r["spans"] > 0 for r in runs[True]):
        raise SystemExit("tracing was configured but no spans reached the Zipkin sink")
    off = {k: statistics.median(r[k] for r in runs[False]) for k in ("wf_per_s", "cpu_ms_per_wf")}
    on = {k: statistics.median(r[k] for r in runs[True]) for k in ("wf_per_s", "cpu_ms_per_wf")}
    print(f"seq3 x {args.workflows} (concurrency {args.concurrency}), median of {args.rounds}:")
    print(f"  off: {off['wf_per_s']:.1f} wf/s, daemon {off['cpu_ms_per_wf']:.2f} ms CPU/wf")
    print(f"  on ({on_label}): {on['wf_per_s']:.1f} wf/s, "
          f"daemon {on['cpu_ms_per_wf']:.2f} ms CPU/wf")
    # Each round's on/off ratio cancels the machine's drift between rounds; their geometric
    # mean over rounds that alternate which configuration goes first cancels the order.
    ratio = paired(runs, "wf_per_s")
    print(f"daemon_cpu_ratio={paired(runs, 'cpu_ms_per_wf'):.3f}  (on/off, paired per round)")
    print(f"telemetry_cost={1 - ratio:.1%}  (target <= 10%)")
    print(f"telemetry_throughput_ratio={ratio:.3f}  (on/off, paired per round)")


if __name__ == "__main__":
    main()
