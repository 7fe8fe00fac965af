from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import uvloop
import yaml
from aiohttp import web
from click.testing import CliRunner, Result

from wfsidecar.cli import main
from wfsidecar.cli_signals import ShutdownSignals
from wfsidecar.config import Config, load
from wfsidecar.errors import StartupError

SHIPPED = Path(__file__).parents[2] / "config" / "wfsidecar.yaml"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI reads os.environ; a developer's own WFSIDECAR_*/DAPR_API_TOKEN must not leak in.
    for name in list(os.environ):
        if name.startswith("WFSIDECAR_") or name == "DAPR_API_TOKEN":
            monkeypatch.delenv(name)


def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, args, env=env)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


# --- config check / show ----------------------------------------------------------------


def test_config_check_accepts_the_shipped_file() -> None:
    result = invoke(["config", "check", "--config", str(SHIPPED)])
    assert (result.exit_code, result.stdout) == (0, "config ok\n")


def test_config_check_without_a_file_checks_the_defaults_and_environment() -> None:
    assert invoke(["config", "check"]).exit_code == 0
    result = invoke(["config", "check"], env={"WFSIDECAR_LOGGING__FORMAT": "xml"})
    assert result.exit_code == 2
    assert result.stderr.startswith("wfsidecar: config error: logging.format: expected one of")


def test_config_check_reports_one_line_with_the_dotted_path(tmp_path: Path) -> None:
    path = write(tmp_path, "store:\n  sqlite:\n    synchronous: sometimes\n")
    result = invoke(["config", "check", "--config", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(
        "wfsidecar: config error: store.sqlite.synchronous: expected one of FULL, NORMAL, OFF, "
        "found string 'sometimes'"
    )


def test_config_check_reads_wfsidecar_config_and_reports_missing_files(tmp_path: Path) -> None:
    path = write(tmp_path, "logging: {level: LOUD}\n")
    result = invoke(["config", "check"], env={"WFSIDECAR_CONFIG": str(path)})
    assert result.exit_code == 2
    assert "logging.level" in result.stderr
    missing = tmp_path / "missing.yaml"
    result = invoke(["config", "check", "--config", str(missing)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"wfsidecar: config error: {missing}: cannot read config file")


def show(args: list[str], env: dict[str, str] | None = None) -> Config:
    result = invoke(["config", "show", *args], env=env)
    assert result.exit_code == 0, result.output
    # The output is itself a valid config file: round-trip it through the loader.
    return load(None, env={}, overrides=_flatten(yaml.safe_load(result.stdout)))


def _flatten(data: dict[str, object], prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def test_config_show_prints_the_defaults() -> None:
    assert show([]) == Config()


def test_config_show_precedence_file_env_flags(tmp_path: Path) -> None:
    path = write(
        tmp_path, "listeners:\n  http:\n    port: 1001\nstore:\n  sqlite:\n    path: f.db\n"
    )
    env = {"WFSIDECAR_LISTENERS__HTTP__PORT": "1002"}
    assert show(["--config", str(path)]).listeners.http.port == 1001
    assert show(["--config", str(path)], env).listeners.http.port == 1002
    flagged = show(["--config", str(path), "--http-port", "1003"], env)
    assert flagged.listeners.http.port == 1003
    # Flags the user did not type never override the file.
    assert flagged.store.sqlite.path == "f.db"
    assert show(["--config", str(path), "--db", "flag.db"]).store.sqlite.path == "flag.db"


def test_config_show_maps_every_run_flag(tmp_path: Path) -> None:
    config = show(
        [
            "--db",
            "x.db",
            "--dapr-grpc-port",
            "0",
            "--durabletask-grpc-port",
            "1",
            "--http-port",
            "2",
            "--ready-file",
            "r.json",
            "--log-level",
            "debug",
        ]
    )
    assert config.store.sqlite.path == "x.db"
    assert config.listeners.dapr_grpc.port == 0
    assert config.listeners.durabletask_grpc.port == 1
    assert config.listeners.http.port == 2
    assert config.listeners.ready_file == "r.json"
    assert config.logging.level == "DEBUG"


def test_config_show_masks_secrets() -> None:
    result = invoke(["config", "show"], env={"DAPR_API_TOKEN": "hunter2"})
    assert result.exit_code == 0
    assert yaml.safe_load(result.stdout)["security"]["api_token"] == "***"
    assert "hunter2" not in result.output


def test_bad_flag_values_are_usage_errors() -> None:
    result = invoke(["config", "show", "--http-port", "70000"])
    assert result.exit_code == 2
    result = invoke(["config", "show", "--db", ""])
    assert result.exit_code == 2
    assert "store.sqlite.path" in result.stderr


# --- health -------------------------------------------------------------------------------


@pytest.fixture
async def healthz() -> AsyncIterator[Callable[[int], Awaitable[int]]]:
    """Start a tiny /v1.0/healthz server on port 0 answering the given status."""
    runners: list[web.AppRunner] = []

    async def start(status: int) -> int:
        async def handler(request: web.Request) -> web.Response:
            return web.Response(status=status)

        app = web.Application()
        app.router.add_get("/v1.0/healthz", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return int(runner.addresses[0][1])

    yield start
    for runner in runners:
        await runner.cleanup()


async def invoke_in_thread(args: list[str]) -> Result:
    # `health` blocks on urllib; the test server needs this loop to answer meanwhile.
    return await asyncio.to_thread(invoke, args)


async def test_health_exits_0_on_204(healthz: Callable[[int], Awaitable[int]]) -> None:
    port = await healthz(204)
    result = await invoke_in_thread(["health", "--http-port", str(port)])
    assert result.exit_code == 0, result.output
    assert "answered 204" in result.stdout


async def test_health_exits_1_on_503(healthz: Callable[[int], Awaitable[int]]) -> None:
    port = await healthz(503)
    result = await invoke_in_thread(["health", "--http-port", str(port), "--host", "127.0.0.1"])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "HTTP 503" in result.stderr


async def test_health_exits_1_on_200(healthz: Callable[[int], Awaitable[int]]) -> None:
    port = await healthz(200)
    result = await invoke_in_thread(["health", "--http-port", str(port)])
    assert result.exit_code == 1
    assert "expected 204" in result.stderr


async def test_health_reads_the_port_from_the_config_file(
    tmp_path: Path, healthz: Callable[[int], Awaitable[int]]
) -> None:
    port = await healthz(204)
    path = write(tmp_path, f"listeners:\n  http:\n    host: 0.0.0.0\n    port: {port}\n")
    result = await invoke_in_thread(["health", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert f"http://127.0.0.1:{port}/" in result.stdout


def test_health_exits_1_when_nothing_listens() -> None:
    # A bound but not listening socket reserves the port and refuses connections.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        result = invoke(["health", "--http-port", str(port), "--timeout", "2"])
    assert result.exit_code == 1
    assert "cannot connect" in result.stderr


def test_health_exits_1_on_timeout() -> None:
    # Listening but never accepted: the connection succeeds and no answer ever comes.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = invoke(["health", "--http-port", str(port), "--timeout", "0.2"])
    assert result.exit_code == 1
    assert "within 0.2s" in result.stderr


# --- run: exit codes with a stand-in App ---------------------------------------------------


class FakeApp:
    behaviour: Callable[[Callable[[], Awaitable[object]]], Awaitable[None]]
    seen: list[tuple[Config, type[asyncio.AbstractEventLoop]]] = []

    def __init__(self, config: Config) -> None:
        self.config = config

    async def serve(self, shutdown_trigger: Callable[[], Awaitable[object]]) -> None:
        self.seen.append((self.config, type(asyncio.get_running_loop())))
        await self.behaviour(shutdown_trigger)


@pytest.fixture
def fake_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeApp]]:
    module = types.ModuleType("wfsidecar.app")
    module.App = FakeApp  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "wfsidecar.app", module)
    FakeApp.seen = []
    yield FakeApp


async def _return(trigger: Callable[[], Awaitable[object]]) -> None:
    return None


def test_run_exits_0_when_serve_returns_and_uses_uvloop(fake_app: type[FakeApp]) -> None:
    fake_app.behaviour = staticmethod(_return)
    result = invoke(["run", "--http-port", "0", "--db", "x.db"])
    assert result.exit_code == 0, result.output
    [(config, loop_type)] = fake_app.seen
    assert config.listeners.http.port == 0
    assert config.store.sqlite.path == "x.db"
    assert issubclass(loop_type, uvloop.Loop)


def test_run_uses_the_asyncio_loop_when_uvloop_is_off(fake_app: type[FakeApp]) -> None:
    fake_app.behaviour = staticmethod(_return)
    result = invoke(["run"], env={"WFSIDECAR_LIFECYCLE__UVLOOP": "false"})
    assert result.exit_code == 0, result.output
    [(_, loop_type)] = fake_app.seen
    assert not issubclass(loop_type, uvloop.Loop)


def test_run_exits_2_on_config_error_before_building_the_app(fake_app: type[FakeApp]) -> None:
    result = invoke(["run"], env={"WFSIDECAR_LISTENERS__HTTP__PORT": "http"})
    assert result.exit_code == 2
    assert result.stderr.startswith("wfsidecar: config error: listeners.http.port: ")
    assert fake_app.seen == []


def test_run_exits_3_on_startup_failure(fake_app: type[FakeApp]) -> None:
    async def fail(trigger: Callable[[], Awaitable[object]]) -> None:
        raise StartupError("database x.db is in use\nby another process")

    fake_app.behaviour = staticmethod(fail)
    result = invoke(["run"])
    assert result.exit_code == 3
    assert result.stderr == (
        "wfsidecar: startup failed: database x.db is in use by another process\n"
    )


def test_run_exits_1_on_unexpected_error_and_logs_the_traceback(
    fake_app: type[FakeApp], caplog: pytest.LogCaptureFixture
) -> None:
    async def crash(trigger: Callable[[], Awaitable[object]]) -> None:
        raise RuntimeError("boom")

    fake_app.behaviour = staticmethod(crash)
    result = invoke(["run"])
    assert result.exit_code == 1
    [record] = [r for r in caplog.records if r.name == "wfsidecar.cli"]
    assert record.exc_info is not None and str(record.exc_info[1]) == "boom"


@pytest.fixture
def _restore_signals() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.mark.usefixtures("_restore_signals")
async def test_first_signal_triggers_shutdown_second_cancels_the_drain() -> None:
    signals = ShutdownSignals()
    draining = asyncio.Event()

    async def serve() -> None:
        signals.install(asyncio.get_running_loop())
        try:
            await signals.wait()
            draining.set()
            await asyncio.Event().wait()  # a drain that never finishes on its own
        finally:
            signals.remove()

    task = asyncio.create_task(serve())
    await asyncio.sleep(0)
    signals.on_signal(signal.SIGTERM)
    await asyncio.wait_for(draining.wait(), 5)
    assert not signals.forced and not task.done()
    signals.on_signal(signal.SIGINT)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert signals.forced


# --- run as a real process: real signals ---------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import asyncio, sys, types
    class App:
        def __init__(self, config):
            pass
        async def serve(self, shutdown_trigger):
            print("ready", flush=True)
            await shutdown_trigger()
            print("draining", flush=True)
            if sys.argv[1] == "hang":
                await asyncio.Event().wait()
    module = types.ModuleType("wfsidecar.app")
    module.App = App
    sys.modules["wfsidecar.app"] = module
    from wfsidecar.cli import main
    main(["run"])
    """
)


@pytest.mark.process
@pytest.mark.parametrize(("mode", "signals", "code"), [("ok", 1, 0), ("hang", 2, 1)])
def test_run_process_stops_on_sigterm(mode: str, signals: int, code: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WFSIDECAR_")}
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGTERM)
        assert proc.stdout.readline() == "draining\n"
        if signals == 2:
            proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == code
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
