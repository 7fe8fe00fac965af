"""The SDKs a chaos run can drive: which worker app, in which venv, on which listener."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from tests.chaos.workload import KINDS, KINDS_MS, Kind
from tests.daemon import REPO
from wfsidecar._proto.dapr import orchestrator_service_pb2 as dapr_pb
from wfsidecar._proto.ms import orchestrator_service_pb2 as ms_pb

HERE = REPO / "tests" / "chaos"


@dataclass(frozen=True, slots=True)
class Sdk:
    app: Path  # the worker app, run by the venv's python
    venv: str  # a name from tests/sdk_envs.py
    port_flag: str  # the daemon flag of the listener this SDK speaks to
    endpoint_env: str  # the variable the app reads "host:port" from
    dialect: ModuleType  # proto module the harness's client uses on that listener
    kinds: tuple[Kind, ...]


SDKS: dict[str, Sdk] = {
    "dapr": Sdk(HERE / "chaos_app.py", "dapr-ext-118", "--dapr-grpc-port",
                "DAPR_GRPC_ENDPOINT", dapr_pb, KINDS),
    "ms": Sdk(HERE / "chaos_app_ms.py", "durabletask-112", "--durabletask-grpc-port",
              "DURABLETASK_ENDPOINT", ms_pb, KINDS_MS),
}
