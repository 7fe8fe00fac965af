"""Stateful-history deltas with the real ``dapr`` 1.19 worker (issue #10 item 1).

The worker app (history_delta_app.py) counts, from inside the worker process, every
workflow request it receives as a full send or a delta, and every ``GetInstanceHistory``
fetch it makes on a cache miss. On a healthy stream a warm worker must get deltas and never
need a fetch; a worker that turned the capability off must get full sends only.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.daemon import REPO, WFSIDECAR, Daemon, daemon_args
from tests.sdk_envs import sdk_python

APP = REPO / "tests" / "scenarios" / "history_delta_app.py"
STEPS = 20


def run_app(tmp_path: Path, daemon: Daemon, *flags: str) -> dict[str, Any]:
    port = daemon.wait_ready()["dapr_grpc_port"]
    env = {**os.environ, "DAPR_GRPC_ENDPOINT": f"localhost:{port}"}
    env.pop("PYTHONPATH", None)
    out = subprocess.run([str(sdk_python("dapr-119")), str(APP), "--steps", str(STEPS),
                          *flags], capture_output=True, text=True, env=env, timeout=240,
                         cwd=tmp_path)
    assert out.returncode == 0, f"app failed:\n{out.stderr[-4000:]}\n{daemon.stderr()[-4000:]}"
    seen: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return seen


@pytest.mark.process
@pytest.mark.timeout(300)
def test_warm_worker_gets_deltas_and_never_fetches(
        tmp_path: Path, spawn: Callable[..., Daemon]) -> None:
    seen = run_app(tmp_path, spawn([*WFSIDECAR, *daemon_args(tmp_path)]))
    assert (seen["status"], seen["output"]) == ("COMPLETED", STEPS)
    counts = seen["counts"]["long-seq"]
    # One turn per activity result plus the first: the first is full (a cold cache), the
    # rest deltas; at most one more full send is allowed (protocol.md: always valid).
    assert counts["full"] <= 2, counts
    assert counts["delta"] >= 1, counts
    assert counts["fetch"] == 0, counts
    assert counts["full"] + counts["delta"] == STEPS + 1
    # A delta carries only what was committed since: the requests stay small and flat.
    deltas = [size for size, cached in zip(seen["sizes"], seen["cached"], strict=True)
              if cached]
    assert max(deltas) < 2 * min(deltas), seen["sizes"]
    # Each delta names exactly the past the worker replayed in its previous turn.
    assert seen["cached"][1:] == sorted(seen["cached"][1:])


@pytest.mark.process
@pytest.mark.timeout(300)
def test_worker_without_the_capability_gets_full_sends_only(
        tmp_path: Path, spawn: Callable[..., Daemon]) -> None:
    seen = run_app(tmp_path, spawn([*WFSIDECAR, *daemon_args(tmp_path)]),
                   "--no-stateful-history")
    assert (seen["status"], seen["output"]) == ("COMPLETED", STEPS)
    counts = seen["counts"]["long-seq"]
    assert counts == {"full": STEPS + 1, "delta": 0, "fetch": 0}
    assert seen["sizes"] == sorted(seen["sizes"])  # the whole past, growing every turn
