"""Podman as the image tests drive it: the flags these machines need, and one container.

Containers share the host's network (``--network host``): the gRPC listeners bind port 0
and report their ports in the ready file on the data volume, and the HTTP port (which
the HEALTHCHECK must know) is a free one picked here, so nothing clashes with other tests.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BASE_IMAGE = os.environ.get("WFSIDECAR_IMAGE_BASE", "localhost/wfsidecar-base:bookworm")
# What this machine's cgroup and rlimit set-up needs (issue #13 item 7).
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"]
RUN_FLAGS = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096", "--network", "host"]
# A TLS-intercepting proxy's CA, if the host trusts one, must reach pip inside the build.
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
DATA = "/var/lib/wfsidecar"
TOKEN = "image-test-token-0123456789"
# Lines for the end of the run (the image size, timings): see conftest.py.
REPORT: list[str] = []


def podman(*args: str, timeout: float = 60, check: bool = True) -> str:
    out = subprocess.run([*PODMAN, *args], capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {out.returncode}: "
                             f"{out.stderr[-3000:]}")
    return out.stdout


def wait_for(condition: Callable[[], Any], timeout: float, what: str,
             detail: Callable[[], str] = lambda: "") -> Any:
    """Poll ``condition`` until it returns something truthy, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s. {detail()}")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Container:
    """One ``podman run -d`` of the image, with a named data volume."""

    def __init__(self, image: str, volume: str, env: dict[str, str], args: list[str]) -> None:
        self.name = f"wfsidecar-test-{uuid.uuid4().hex[:12]}"
        self.volume = volume
        self.http_port = free_port()
        env = {"WFSIDECAR_LISTENERS__DAPR_GRPC__PORT": "0",
               "WFSIDECAR_LISTENERS__DURABLETASK_GRPC__PORT": "0",
               "WFSIDECAR_LISTENERS__HTTP__PORT": str(self.http_port),
               "WFSIDECAR_LISTENERS__READY_FILE": f"{DATA}/ready.json", **env}
        flags = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
        self.argv = ["run", "-d", "--name", self.name, *RUN_FLAGS, "-v", f"{volume}:{DATA}",
                     *flags, image, *args]
        self.data = Path(podman("volume", "inspect", "--format", "{{.Mountpoint}}",
                                volume).strip())

    def start(self) -> None:
        # A daemon killed outright leaves its ready file behind on the volume.
        (self.data / "ready.json").unlink(missing_ok=True)
        podman(*self.argv)

    def state(self) -> dict[str, Any]:
        out = podman("inspect", "--format", "{{json .State}}", self.name)
        state: dict[str, Any] = json.loads(out)
        return state

    def logs(self) -> str:
        out = subprocess.run([*PODMAN, "logs", self.name], capture_output=True, text=True,
                             timeout=30)
        return (out.stdout + out.stderr)[-4000:]

    def wait_ready(self, timeout: float = 30) -> dict[str, int]:
        """The bound ports, once the daemon wrote its ready file."""
        ready = self.data / "ready.json"

        def check() -> dict[str, int] | None:
            state = self.state()
            if state["Status"] != "running":
                raise AssertionError(f"container {state['Status']}, exit code "
                                     f"{state['ExitCode']}: {self.logs()}")
            if ready.exists():
                ports: dict[str, int] = json.loads(ready.read_text())
                return ports
            return None

        ports: dict[str, int] = wait_for(check, timeout, "daemon ready", self.logs)
        return ports

    def wait_exit(self, timeout: float = 30) -> int:
        """The exit code, once the container has stopped."""
        state = wait_for(lambda: (s := self.state())["Status"] == "exited" and s, timeout,
                         f"container {self.name} exits", self.logs)
        code: int = state["ExitCode"]
        return code

    def remove(self) -> None:
        podman("rm", "-f", "-t", "0", self.name, check=False)
