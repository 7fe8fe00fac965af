"""Real Dapr workflow apps (dapr-ext-workflow 1.18.3 and the dapr 1.19.0 wheel) against a
real daemon: every workflow feature the SDK offers, asserted on outputs and statuses."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon import REPO, WFSIDECAR, Daemon, daemon_args
from tests.sdk_envs import sdk_python

APP = REPO / "tests" / "scenarios" / "dapr_app.py"


@pytest.mark.process
@pytest.mark.timeout(300)
@pytest.mark.parametrize("sdk", ["dapr-ext-118", "dapr-119"])
def test_dapr_sdk_app_runs_every_feature(
    sdk: str, tmp_path: Path, spawn: Callable[..., Daemon]
) -> None:
    python = sdk_python(sdk)
    daemon = spawn([*WFSIDECAR, *daemon_args(tmp_path)])
    port = daemon.wait_ready()["dapr_grpc_port"]
    env = {**os.environ, "DAPR_GRPC_ENDPOINT": f"localhost:{port}"}
    env.pop("PYTHONPATH", None)
    out = subprocess.run([str(python), str(APP)], capture_output=True, text=True, env=env,
                         timeout=240, cwd=tmp_path)
    assert out.returncode == 0, f"app failed:\n{out.stderr[-4000:]}\n{daemon.stderr()[-4000:]}"
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    ok = "COMPLETED"

    def done(output: object, custom_status: str | None = None) -> dict[str, object]:
        return {"status": ok, "output": output, "custom_status": custom_status}

    assert seen["chain"] == done(15)
    assert seen["fan_out"] == done(sum(i * i for i in range(100)))
    assert seen["children"] == done([2, 4, 6])
    assert seen["timer"]["status"] == ok and seen["timer"]["output"] >= 1.5
    assert seen["event"] == done("approved by alice")
    assert seen["event_timeout"] == done("timed out")
    assert seen["continue_as_new"] == done({"total": 6, "round": 3}, "round 3")
    assert seen["suspended_status"] == "SUSPENDED"
    # read once the worker's turn for the event raised while suspended has committed
    assert seen["still_suspended"] == "SUSPENDED"
    assert seen["resumed"] == done("resumed", "waiting")
    assert seen["terminated"] == {"status": "TERMINATED", "output": "stop",
                                  "custom_status": None}
    assert seen["terminated_children"] == ["TERMINATED", "TERMINATED"]
    assert seen["purged"] == [None, None, None]
    # every instance of the run, paged 3 at a time; the purged tree is gone
    assert seen["listed"] == sorted(["can", "chain", "fan", "late", "ok", "parent",
                                     "parent-c0", "parent-c1", "parent-c2", "pause",
                                     "timer"])
    kinds = seen["history_kinds"]
    assert kinds[0] in ("orchestratorStarted", "workflowStarted")
    assert kinds.count("taskScheduled") == 5 and kinds.count("taskCompleted") == 5
    assert kinds[-1] == "executionCompleted"
    # Rerun from the 3rd activity with input 100: 101, 102, 103; the first two results
    # are kept from the source, so add_one ran 5 (chain) + 3 (children) + 3 (rerun) times.
    assert seen["rerun"] == done(103)
    assert seen["activity_calls"] == 11
