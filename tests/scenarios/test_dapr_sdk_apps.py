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
    assert seen["chain"] == {"status": ok, "output": 15, "custom_status": None} or (
        seen["chain"]["status"] == ok and seen["chain"]["output"] == 15)
    assert seen["fan_out"]["output"] == sum(i * i for i in range(100))
    assert seen["children"]["output"] == [2, 4, 6]
    assert seen["timer"]["status"] == ok and seen["timer"]["output"] >= 1.5
    assert seen["event"]["output"] == "approved by alice"
    assert seen["event_timeout"]["output"] == "timed out"
    assert seen["continue_as_new"]["output"] == {"total": 6, "round": 3}
    assert seen["continue_as_new"]["custom_status"] == "round 3"
    assert seen["suspended_status"] == "SUSPENDED"
    assert seen["still_suspended"] == "SUSPENDED"
    assert seen["resumed"]["output"] == "resumed"
    assert seen["terminated"]["status"] == "TERMINATED"
    assert seen["terminated"]["output"] == "stop"
    assert seen["terminated_children"] == ["TERMINATED", "TERMINATED"]
    assert seen["purged"] == [None, None, None]
    assert len(seen["listed"]) >= 10
    kinds = seen["history_kinds"]
    assert kinds[0] in ("orchestratorStarted", "workflowStarted")
    assert kinds.count("taskScheduled") == 5 and kinds.count("taskCompleted") == 5
    assert kinds[-1] == "executionCompleted"
    # Rerun from the 3rd activity with input 100: 101, 102, 103.
    assert seen["rerun"] == {"status": ok, "output": 103, "custom_status": None} or (
        seen["rerun"]["output"] == 103)
