"""One daemon, both SDK families: each sees the other's instances, and each worker only
gets work its own dialect started."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon import REPO, WFSIDECAR, Daemon, daemon_args
from tests.sdk_envs import sdk_python

APP = REPO / "tests" / "scenarios" / "cross_apps.py"

pytestmark = [pytest.mark.process, pytest.mark.timeout(600)]


def test_instances_cross_dialects_and_work_stays_in_its_dialect(
    tmp_path: Path, spawn: Callable[..., Daemon]
) -> None:
    daemon = spawn([*WFSIDECAR, *daemon_args(tmp_path)])
    ports = daemon.wait_ready()
    pythons = {"dapr": sdk_python("dapr-ext-118"), "ms": sdk_python("durabletask-112")}
    listener = {"dapr": ports["dapr_grpc_port"], "ms": ports["durabletask_grpc_port"]}

    def app(sdk: str, cmd: str, instance_id: str) -> object:
        env = {**os.environ, "SIDECAR": f"localhost:{listener[sdk]}"}
        env.pop("PYTHONPATH", None)
        out = subprocess.run([str(pythons[sdk]), str(APP), sdk, cmd, instance_id],
                             capture_output=True, text=True, env=env, timeout=120)
        assert out.returncode == 0, out.stderr[-3000:] + daemon.stderr()[-3000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    assert app("dapr", "run", "from-dapr") == ["COMPLETED", "hello from dapr"]
    assert app("ms", "status", "from-dapr") == "COMPLETED"
    assert "from-dapr" in app("ms", "query", "-")  # type: ignore[operator]
    # Started through the Microsoft listener, with no Microsoft worker connected: the
    # Dapr worker that knows a workflow of the same name must not get it.
    env = {**os.environ, "SIDECAR": f"localhost:{listener['dapr']}"}
    env.pop("PYTHONPATH", None)
    dapr_worker = subprocess.Popen([str(pythons["dapr"]), str(APP), "dapr", "serve", "-"],
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert dapr_worker.stdout is not None
        assert dapr_worker.stdout.readline().strip() == b"SERVING"
        assert app("ms", "pending", "from-ms") == "PENDING"
        assert app("dapr", "status", "from-ms") == "PENDING"
    finally:
        dapr_worker.kill()
        dapr_worker.wait()
        assert dapr_worker.stdout is not None
        dapr_worker.stdout.close()
    assert app("ms", "run", "from-ms") == ["COMPLETED", "hello from microsoft"]
    assert app("dapr", "status", "from-ms") == "COMPLETED"
    assert app("dapr", "purge", "from-ms") is False
    assert app("ms", "status", "from-ms") is None
