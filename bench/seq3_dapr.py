"""seq3 throughput with the real Dapr SDK worker, stored bytes per completed workflow, and a
retention run that purges them all.

Usage: .venv/bin/python bench/seq3_dapr.py [--workflows N] [--concurrency C]
Starts a daemon on a temporary SQLite file, runs bench/seq3_app.py in the Dapr SDK 1.18
virtualenv (built on first use), prints workflows/s, then the state the completed
workflows left behind: state bytes and database file bytes per workflow after the daemon's
checkpoint and after a VACUUM. Then it restarts the daemon with retention.anyTerminal=1ms:
the first sweep purges and archives every workflow and gives the pages back (the numbers,
and the file's size after it). Before compact storage (issue #13 item 6): 1,545 bytes per
workflow after the checkpoint, 1,398 after VACUUM; with it about 970 and 820.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.sdk_envs import sdk_python  # noqa: E402


def run_retention(db: Path, tmp: Path) -> dict[str, Any]:
    """Restart the daemon on the file with retention at 1 ms: its first sweep purges every
    workflow (archiving them) and gives the pages back; measure the file after it stops."""
    ready, archive = tmp / "ready-retention.json", tmp / "archive.jsonl"
    env = {**os.environ, "WFSIDECAR_RETENTION__ANYTERMINAL": "1ms",
           "WFSIDECAR_RETENTION__ARCHIVE_PATH": str(archive),
           "WFSIDECAR_RETENTION__VACUUM_PAGES": "100000"}
    started = time.monotonic()
    daemon = subprocess.Popen(
        [sys.executable, "-m", "wfsidecar", "run", "--db", str(db), "--dapr-grpc-port", "0",
         "--durabletask-grpc-port", "0", "--http-port", "0", "--ready-file", str(ready),
         "--log-level", "WARNING"], cwd=tmp, env=env)
    while not ready.exists():
        time.sleep(0.05)
    url = f"http://127.0.0.1:{json.loads(ready.read_text())['http_port']}/v1.0/storage"
    while True:
        with urllib.request.urlopen(url) as response:
            sweep = json.load(response)["retention"]["lastSweep"]
        if sweep is not None:
            break
        time.sleep(0.05)
    seconds = time.monotonic() - started
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(30)
    return {"sweep": sweep, "seconds": seconds, "file_bytes": db.stat().st_size,
            "archived": len(archive.read_text().splitlines()),
            "archive_bytes": archive.stat().st_size}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workflows", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--keep-db", help="copy the database file here before the VACUUM")
    parser.add_argument("--no-retention", action="store_true",
                        help="skip the retention run (a build without retention)")
    args = parser.parse_args()
    python = sdk_python("dapr-ext-118")
    with tempfile.TemporaryDirectory() as tmp:
        db, ready = Path(tmp) / "wf.db", Path(tmp) / "ready.json"
        daemon = subprocess.Popen(
            [sys.executable, "-m", "wfsidecar", "run", "--db", str(db), "--dapr-grpc-port", "0",
             "--durabletask-grpc-port", "0", "--http-port", "0", "--ready-file", str(ready),
             "--log-level", "WARNING"], cwd=tmp)
        while not ready.exists():
            time.sleep(0.05)
        port = json.loads(ready.read_text())["dapr_grpc_port"]
        env = {**os.environ, "DAPR_GRPC_ENDPOINT": f"localhost:{port}"}
        env.pop("PYTHONPATH", None)
        out = subprocess.run([str(python), str(REPO / "bench" / "seq3_app.py"),
                              str(args.workflows), str(args.concurrency)],
                             capture_output=True, text=True, env=env, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
        checkpointed = db.stat().st_size  # the daemon's last connection checkpointed the WAL
        conn = sqlite3.connect(db)
        logical = conn.execute(
            "SELECT sum(length(s.key) + length(s.value)) FROM actor_state s"
            " JOIN actors a ON a.id = s.actor WHERE a.actor_id LIKE 'seq3-%'").fetchone()[0] or 0
        packed = conn.execute(  # schema 3 on; a file of an older build has no such table
            "SELECT sum(length(p.state)) FROM packed_state p"
            " JOIN actors a ON a.id = p.actor WHERE a.actor_id LIKE 'seq3-%'").fetchone()[0] \
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'packed_state'"
                            ).fetchone() else 0
        leftovers = conn.execute(
            "SELECT count(*) FROM actors WHERE type LIKE '%activity'").fetchone()[0]
        if args.keep_db:
            shutil.copy(db, args.keep_db)  # as the daemon left it, before the VACUUM
        vacuumed = Path(tmp) / "vacuumed.db"
        conn.execute(f"VACUUM INTO '{vacuumed}'")
        conn.close()
        file_bytes = vacuumed.stat().st_size
        retention = None if args.no_retention else run_retention(db, Path(tmp))
    n = result["workflows"]
    print(f"seq3 workflows: {n} (concurrency {args.concurrency}), "
          f"completed {result['completed']}, {result['seconds']:.1f}s")
    print(f"seq3_wf_per_s={n / result['seconds']:.1f}")
    print(f"activities_per_s={3 * n / result['seconds']:.1f}")
    print(f"loose_state_bytes_per_workflow={logical / n:.0f}  (keys + values in actor_state)")
    print(f"packed_state_bytes_per_workflow={packed / n:.0f}  (finished instances' packed row)")
    print(f"file_bytes_per_workflow={checkpointed / (n + 1):.0f}  (after a checkpoint; indexes"
          " and the instance index included)")
    print(f"vacuumed_file_bytes_per_workflow={file_bytes / (n + 1):.0f}  (after VACUUM)")
    print(f"leftover_activity_actors={leftovers}")
    if retention is not None:
        sweep = retention["sweep"]
        print(f"retention run (anyTerminal=1ms, a restart): purged {sweep['purged']}"
              f" ({sweep['purgedBytes']} stored bytes), archived {retention['archived']}"
              f" lines ({retention['archive_bytes']} bytes), gave back"
              f" {sweep['reclaimedPages']} pages, {retention['seconds']:.1f}s from start")
        print(f"file_bytes_after_retention={retention['file_bytes']}  (purge + incremental"
              f" vacuum: the empty schema's pages, whatever the number of workflows)")


if __name__ == "__main__":
    main()
