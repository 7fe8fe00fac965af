"""RewindInstance on a parent whose failed child was purged (issue #10 item 2), driven by
Microsoft's ``durabletask`` 1.12 worker and client (``rewind_app.py``) against a daemon.

The parent's rewind re-creates the purged child under the same id from its original
creation (name, input, parent link) and the parent completes with the child's new result;
the reference backend in the same wheel does the same. Before, the rewind message to the
missing child was dropped and the parent waited forever.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon import REPO, WFSIDECAR, Daemon, daemon_args
from tests.sdk_envs import sdk_python

APP = REPO / "tests" / "scenarios" / "rewind_app.py"

pytestmark = [pytest.mark.process, pytest.mark.timeout(300)]


def test_rewind_re_creates_a_purged_failed_child(
    tmp_path: Path, spawn: Callable[..., Daemon]
) -> None:
    daemon = spawn([*WFSIDECAR, *daemon_args(tmp_path)])
    port = daemon.wait_ready()["durabletask_grpc_port"]
    env = {**os.environ, "SIDECAR": f"localhost:{port}"}
    env.pop("PYTHONPATH", None)  # the SDK venv must not see the project's modules
    run = subprocess.run([str(sdk_python("durabletask-112")), str(APP), "rw"],
                         capture_output=True, text=True, env=env, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:] + daemon.stderr()[-3000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])

    assert got["failed"]["status"] == "FAILED"
    assert got["child failed"] == {"name": "child", "status": "FAILED", "input": '"kid"',
                                   "output": None}
    assert got["purged"] == 1 and got["child after purge"] is None
    assert got["done"] == {
        "name": "parent", "status": "COMPLETED", "input": None,
        "output": json.dumps({"child said": "kid ok", "parent": "rw"})}, got
    # Created again from its original creation: same id, name and input.
    assert got["child"] == {"name": "child", "status": "COMPLETED", "input": '"kid"',
                            "output": '"kid ok"'}
