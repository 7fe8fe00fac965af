"""seq3 throughput of 1, 2 and 3 daemons sharing one PostgreSQL database, beside SQLite.

Usage: .venv/bin/python bench/multinode.py [--workflows N] [--concurrency C] [--daemons 1,2,3]

Each configuration gets fresh storage: a SQLite file (the default store, synchronous=FULL)
or a new PostgreSQL cluster with fsync and synchronous commit on (tests/postgres_cluster.py
with durable=True), so both pay for durable commits. With d daemons, each has its own
Dapr SDK worker and client (bench/seq3_app.py, in the SDK 1.18 virtualenv) driving
N/d seq3 workflows at concurrency C/d through its own daemon; all start together after a
warm-up, and the rate is N over the span from the first start to the last end.

Every process (daemons, workers, PostgreSQL) shares this machine's cores: on 2 cores, more
daemons add coordination (leases, fencing, NOTIFY) and more processes to schedule, not
capacity. The numbers show the overhead of the multi-node design, not scale-out
(docs/multi-node.md says what they would mean on separate machines).
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.postgres_cluster import start_cluster  # noqa: E402
from tests.sdk_envs import sdk_python  # noqa: E402


def _daemon(tmp: Path, n: int, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    ready = tmp / f"ready-{n}.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "wfsidecar", "run", "--db", str(tmp / "wf.db"),
         "--dapr-grpc-port", "0", "--durabletask-grpc-port", "0", "--http-port", "0",
         "--ready-file", str(ready), "--log-level", "WARNING"], cwd=tmp, env=env)
    while not ready.exists():
        if proc.poll() is not None:
            raise SystemExit(f"daemon {n} exited {proc.returncode}")
        time.sleep(0.05)
    return proc, int(json.loads(ready.read_text())["dapr_grpc_port"])


def run(label: str, daemons: int, workflows: int, concurrency: int,
        dsn: str | None) -> float:
    python = sdk_python("dapr-ext-118")
    env = {**os.environ}
    if dsn is not None:
        env |= {"WFSIDECAR_STORE__BACKEND": "postgres", "WFSIDECAR_STORE__POSTGRES__DSN": dsn}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        procs = [_daemon(tmp, n, env) for n in range(daemons)]
        apps = []
        for n, (_, port) in enumerate(procs):
            app_env = {**os.environ, "DAPR_GRPC_ENDPOINT": f"localhost:{port}"}
            app_env.pop("PYTHONPATH", None)
            apps.append(subprocess.Popen(
                [str(python), str(REPO / "bench" / "seq3_app.py"),
                 str(workflows // daemons), str(max(concurrency // daemons, 1)), f"d{n}",
                 "--together"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=app_env))
        for app in apps:  # every worker connected and warm before any load
            assert app.stdout is not None
            while app.stdout.readline().strip() != "WARM":
                if app.poll() is not None:
                    raise SystemExit(f"bench app exited {app.returncode}")
        for app in apps:
            assert app.stdin is not None
            app.stdin.write("go\n")
            app.stdin.flush()
        results = [json.loads(app.communicate(timeout=900)[0].strip().splitlines()[-1])
                   for app in apps]
        for proc, _ in procs:
            proc.send_signal(signal.SIGTERM)
        for proc, _ in procs:
            proc.wait(60)
    done = sum(r["completed"] for r in results)
    total = sum(r["workflows"] for r in results)
    span = max(r["ended"] for r in results) - min(r["started"] for r in results)
    rate = total / span
    print(f"{label}: {total} seq3 ({done} completed) in {span:.1f}s = {rate:.1f} wf/s",
          flush=True)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workflows", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=60)
    parser.add_argument("--daemons", default="1,2,3")
    args = parser.parse_args()
    rates = {"sqlite": run("sqlite, 1 daemon", 1, args.workflows, args.concurrency, None)}
    for daemons in (int(d) for d in args.daemons.split(",")):
        cluster = start_cluster(durable=True)
        try:
            dsn = cluster.create_database("bench")
            rates[f"pg{daemons}"] = run(f"postgres, {daemons} daemon(s)", daemons,
                                        args.workflows, args.concurrency, dsn)
        finally:
            cluster.stop()
    print(" ".join(f"seq3_wf_per_s_{k}={v:.1f}" for k, v in rates.items()))


if __name__ == "__main__":
    main()
