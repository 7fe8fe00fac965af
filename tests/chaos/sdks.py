"""The SDKs a chaos run can drive: which worker app, how to run it, on which listener."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from tests.chaos.workload import KINDS, KINDS_MS, Kind
from tests.daemon import REPO
from tests.sdk_envs import sdk_python
from wfsidecar._proto.dapr import orchestrator_service_pb2 as dapr_pb
from wfsidecar._proto.ms import orchestrator_service_pb2 as ms_pb

HERE = REPO / "tests" / "chaos"


@dataclass(frozen=True, slots=True)
class Sdk:
    command: Callable[[], list[str]]  # argv of the worker app (installs the SDK if needed)
    port_flag: str  # the daemon flag of the listener this SDK speaks to
    endpoint_env: str  # the variable the app reads "host:port" from
    dialect: ModuleType  # proto module the harness's client uses on that listener
    kinds: tuple[Kind, ...]


def _python_app(venv: str, app: str) -> Callable[[], list[str]]:
    return lambda: [str(sdk_python(venv)), str(HERE / app)]


def _node_app() -> list[str]:
    # Imported here: the JS helpers install node_modules, which only this SDK needs.
    from tests.js.test_durabletask_js import JS_DIR, ensure_node_modules, node_binary

    ensure_node_modules()
    return [str(node_binary()), str(JS_DIR / "chaos_app.mjs")]


SDKS: dict[str, Sdk] = {
    "dapr": Sdk(_python_app("dapr-ext-118", "chaos_app.py"), "--dapr-grpc-port",
                "DAPR_GRPC_ENDPOINT", dapr_pb, KINDS),
    "ms": Sdk(_python_app("durabletask-112", "chaos_app_ms.py"), "--durabletask-grpc-port",
              "DURABLETASK_ENDPOINT", ms_pb, KINDS_MS),
    "js": Sdk(_node_app, "--durabletask-grpc-port", "DURABLETASK_ENDPOINT", ms_pb, KINDS_MS),
}
