"""Safe defaults (issue #13 item 2): `wfsidecar run` refuses a listener beyond loopback
without a token, saying exactly what to set; --insecure starts it with a loud warning,
repeated while it runs; a token starts it quietly. The Dockerfile's image binds both gRPC
listeners to 0.0.0.0, so it is the first case unless a token is given."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from tests.daemon import WFSIDECAR, daemon_args
from tests.test_app import running
from wfsidecar.app import App
from wfsidecar.config import load
from wfsidecar.security import exposure

EXPOSED = {"WFSIDECAR_LISTENERS__DAPR_GRPC__HOST": "0.0.0.0",
           "WFSIDECAR_LISTENERS__DURABLETASK_GRPC__HOST": "0.0.0.0"}


def test_loopback_addresses() -> None:
    for host in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert exposure.is_loopback(host), host
    for host in ("0.0.0.0", "::", "10.0.0.5", "example.com", ""):
        assert not exposure.is_loopback(host), host


def test_exposed_without_a_token_refuses_to_start_naming_what_to_set(
        tmp_path: Path, spawn: Any) -> None:
    daemon = spawn([*WFSIDECAR, *daemon_args(tmp_path)], **EXPOSED)
    assert daemon.proc.wait(30) == 2
    err = daemon.stderr()
    assert "dapr_grpc 0.0.0.0:0" in err and "durabletask_grpc 0.0.0.0:0" in err
    for words in ("DAPR_API_TOKEN", "WFSIDECAR_SECURITY__API_TOKEN", "--api-token-file",
                  "--insecure", "127.0.0.1"):
        assert words in err, words
    assert len(err.strip().splitlines()) == 1  # one line, no traceback


def test_insecure_starts_with_a_loud_warning(tmp_path: Path, spawn: Any) -> None:
    daemon = spawn([*WFSIDECAR, *daemon_args(tmp_path, "--insecure")], **EXPOSED)
    daemon.wait_ready()
    assert "INSECURE" in daemon.stderr() and "WITHOUT AUTHENTICATION" in daemon.stderr()


def test_a_token_starts_it_without_the_warning(tmp_path: Path, spawn: Any) -> None:
    daemon = spawn([*WFSIDECAR, *daemon_args(tmp_path)], DAPR_API_TOKEN="s3cret-token",
                   **EXPOSED)
    daemon.wait_ready()
    err = daemon.stderr()
    assert "INSECURE" not in err and "s3cret-token" not in err


async def test_the_insecure_warning_repeats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(exposure, "INSECURE_WARNING_INTERVAL", 0.2)
    app = App(load(None, env={}, overrides={
        "listeners.dapr_grpc.port": 0, "listeners.durabletask_grpc.port": 0,
        "listeners.dapr_grpc.host": "0.0.0.0", "listeners.http.port": 0,
        "store.backend": "memory", "security.insecure": True,
        "security.reload_interval": 0.05}), configure_logging=False)
    with caplog.at_level(logging.WARNING, logger="wfsidecar.security.exposure"):
        async with running(app):
            await asyncio.sleep(0.8)
    warnings = [r for r in caplog.records if "INSECURE" in r.getMessage()]
    assert len(warnings) >= 3


def test_config_check_refuses_what_run_would() -> None:
    from click.testing import CliRunner

    from wfsidecar.cli import main

    refused = CliRunner().invoke(main, ["config", "check"], env=EXPOSED)
    assert refused.exit_code == 2
    assert "DAPR_API_TOKEN" in refused.output and "--insecure" in refused.output
    for env in ({**EXPOSED, "WFSIDECAR_SECURITY__API_TOKEN_FILE": "/run/secrets/token"},
                {**EXPOSED, "WFSIDECAR_SECURITY__INSECURE": "true"}, {}):
        assert CliRunner().invoke(main, ["config", "check"], env=env).exit_code == 0, env
