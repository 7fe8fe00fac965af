"""``wfsidecar run`` with metrics on, as a real process: ``--metrics-port`` (or the
environment) turns them on, the bound port is in the ready file and the start-up log, and
the listener is bound to the loopback interface only unless configured otherwise."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon import WFSIDECAR, Daemon, daemon_args
from tests.telemetry.scrape import scrape_blocking

Spawn = Callable[..., Daemon]


def listening_addresses(port: int) -> set[str]:
    """The local addresses the kernel has a TCP socket listening on ``port`` at."""
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        if not os.path.exists(table):
            continue
        with open(table) as rows:
            next(rows)
            for row in rows:
                local, state = row.split()[1], row.split()[3]
                address, port_hex = local.split(":")
                if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                    raw = bytes.fromhex(address)
                    # /proc prints each 32-bit word of the address in host (little) order.
                    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                    found.add(socket.inet_ntop(family, raw))
    return found


def test_metrics_port_flag_serves_loopback_metrics(spawn: Spawn, tmp_path: Path) -> None:
    daemon = spawn([*WFSIDECAR, *daemon_args(tmp_path, "--metrics-port", "0")])
    ports = daemon.wait_ready()
    port = ports["metrics_port"]
    assert isinstance(port, int) and port > 0
    assert listening_addresses(port) == {"127.0.0.1"}
    metrics = scrape_blocking(port)
    assert metrics.types["dapr_runtime_workflow_operation_count"] == "counter"
    assert metrics.get("wfsidecar_workers_connected", dialect="dapr") == 0
    log = daemon.stderr()
    assert f"metrics on http://127.0.0.1:{port}/metrics" in log
    assert f"'metrics_port': {port}" in log


@pytest.mark.parametrize("host", ["", "0.0.0.0"])
def test_environment_turns_metrics_on(spawn: Spawn, tmp_path: Path, host: str) -> None:
    env = {"WFSIDECAR_METRICS__ENABLED": "true", "WFSIDECAR_METRICS__PORT": "0",
           "WFSIDECAR_METRICS__APP_ID": "orders"}
    if host:
        env["WFSIDECAR_METRICS__HOST"] = host
        # Beyond loopback without a token the daemon refuses to start (docs/security.md).
        env["WFSIDECAR_SECURITY__INSECURE"] = "true"
    daemon = spawn([*WFSIDECAR, *daemon_args(tmp_path)], **env)
    port = daemon.wait_ready()["metrics_port"]
    assert listening_addresses(port) == {host or "127.0.0.1"}
    assert scrape_blocking(port).types["wfsidecar_instances"] == "gauge"


def test_metrics_are_off_without_flag_or_setting(spawn: Spawn, tmp_path: Path) -> None:
    daemon = spawn([*WFSIDECAR, *daemon_args(tmp_path)])
    assert daemon.wait_ready()["metrics_port"] is None
