"""The container image, built and run for real with podman (issue #13 item 7)."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.image.containers import (
    DATA,
    PODMAN,
    REPORT,
    TOKEN,
    Container,
    podman,
    wait_for,
)
from tests.sdk_envs import sdk_python

APP = Path(__file__).with_name("sdk_app.py")
UID = 10001
# The image's base is ~130 MB (Debian minbase or python:3.11-slim) and the venv ~75 MB.
MAX_IMAGE_MB = 260

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

CHAINS = {f"chain-{i}": ["COMPLETED", f"c{i}+++"] for i in range(5)}
FAN_OUT = ["COMPLETED", [f"{i}+" for i in range(10)]]
APPROVAL_WAITING = ["RUNNING", None]
TOKEN_ENV = {"WFSIDECAR_SECURITY__API_TOKEN": TOKEN}


def http_status(url: str, headers: dict[str, str] | None = None) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
            status: int = r.status
            return status
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


def sdk_env(ports: dict[str, int]) -> dict[str, str]:
    env = {**os.environ, "SIDECAR_MS": f"127.0.0.1:{ports['durabletask_grpc_port']}",
           "SIDECAR_DAPR": f"127.0.0.1:{ports['dapr_grpc_port']}",
           "API_TOKEN": TOKEN, "DAPR_API_TOKEN": TOKEN}
    env.pop("PYTHONPATH", None)
    return env


def sdk_app(container: Container, ports: dict[str, int], sdk: str, *args: str) -> Any:
    python = sdk_python("durabletask-112" if sdk == "ms" else "dapr-ext-118")
    out = subprocess.run([str(python), str(APP), sdk, *args], capture_output=True, text=True,
                         env=sdk_env(ports), timeout=180)
    assert out.returncode == 0, f"{out.stderr[-3000:]}\ncontainer: {container.logs()}"
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_image_is_small_non_root_with_volume_and_healthcheck(image: str) -> None:
    inspect: dict[str, Any] = json.loads(podman("image", "inspect", image))[0]
    config = inspect["Config"]
    assert config["User"] == str(UID)
    assert inspect["Healthcheck"]["Test"] == ["CMD", "wfsidecar", "health"]
    assert DATA in config["Volumes"]
    assert config["Entrypoint"] == ["wfsidecar"] and config["Cmd"] == ["run"]
    size = inspect["Size"]
    assert size < MAX_IMAGE_MB * 1e6, f"image is {size / 1e6:.0f} MB"


def test_refuses_all_interfaces_without_a_token(
    run_container: Callable[..., Container],
) -> None:
    helper = run_container("run", "--help")
    assert helper.wait_exit() == 0
    if "--insecure" not in helper.logs():
        pytest.skip("this build has no non-loopback refusal yet (no `run --insecure`, "
                    "issue #13 item 2)")
    # The image binds both gRPC listeners to 0.0.0.0; with no token it must not serve.
    bare = run_container()
    assert bare.wait_exit() == 2, bare.logs()
    logs = bare.logs()
    assert "WFSIDECAR_SECURITY__API_TOKEN" in logs and "DAPR_API_TOKEN" in logs, logs
    assert not (bare.data / "ready.json").exists()
    # The same image and volume with a token: it serves, to callers that send the token.
    with_token = run_container(env=TOKEN_ENV, volume=bare.volume)
    with_token.wait_ready()
    url = f"http://127.0.0.1:{with_token.http_port}/v1.0/metadata"
    assert http_status(url) == 401
    assert http_status(url, {"dapr-api-token": TOKEN}) == 200


def test_sdks_run_workflows_through_a_healthy_non_root_daemon(
    run_container: Callable[..., Container],
) -> None:
    container = run_container(env=TOKEN_ENV)
    ports = container.wait_ready()

    pid = container.state()["Pid"]
    uids = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if line.startswith("Uid:"))
    assert uids.split()[1:] == [str(UID)] * 4, uids  # real, effective, saved, filesystem

    # The image's HEALTHCHECK command, run as podman runs it on its interval.
    def healthy() -> bool:
        run = subprocess.run([*PODMAN, "healthcheck", "run", container.name],
                             capture_output=True, text=True, timeout=30)
        return run.returncode == 0

    wait_for(healthy, 30, "HEALTHCHECK healthy", container.logs)
    state = container.state()
    health = state.get("Health") or state.get("Healthcheck") or {}  # podman 4 has both
    assert health.get("Status") == "healthy", state

    results = sdk_app(container, ports, "ms", "run")
    assert results == {**CHAINS, "fan-out": FAN_OUT, "approval-1": APPROVAL_WAITING}
    assert sdk_app(container, ports, "dapr", "run", "dapr-1") == [
        "COMPLETED", "hello hello dapr"]


def test_sigterm_drains_and_the_volume_keeps_the_workflows(
    run_container: Callable[..., Container],
) -> None:
    first = run_container(env=TOKEN_ENV)
    ports = first.wait_ready()
    before = sdk_app(first, ports, "ms", "run")
    assert before["approval-1"] == APPROVAL_WAITING
    assert sdk_app(first, ports, "dapr", "run", "dapr-1") == ["COMPLETED", "hello hello dapr"]

    # A worker stays connected (its GetWorkItems stream open) while the daemon is stopped.
    worker = subprocess.Popen([str(sdk_python("durabletask-112")), str(APP), "ms", "serve"],
                              env=sdk_env(ports), stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL)
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == b"SERVING"
        stopping = time.monotonic()
        podman("kill", "--signal", "TERM", first.name)
        assert first.wait_exit(timeout=30) == 0, first.logs()
        took = time.monotonic() - stopping
    finally:
        worker.kill()
        worker.wait()
        assert worker.stdout is not None
        worker.stdout.close()
    logs = first.logs()
    assert "received SIGTERM" in logs and "shutting down: draining" in logs, logs
    assert "wfsidecar stopped" in logs, logs
    REPORT.append(f"SIGTERM to exit 0 with a worker connected: {took:.1f}s")

    # A new container on the same volume: everything finished is there as it was, and the
    # instance that was waiting takes its event and completes.
    second = run_container(env=TOKEN_ENV, volume=first.volume)
    ports = second.wait_ready()
    after = sdk_app(second, ports, "ms", "resume", *before, "dapr-1")
    assert after["before"] == {**before, "dapr-1": ["COMPLETED", "hello hello dapr"]}
    assert after["approval"] == ["COMPLETED", "yes+"]
    # podman stop sends the image's stop signal (SIGTERM) too.
    podman("stop", "-t", "30", second.name, timeout=60)
    assert second.wait_exit() == 0, second.logs()
