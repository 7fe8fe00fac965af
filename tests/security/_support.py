"""An in-process daemon with admin, read-only and worker tokens, on free ports."""

from __future__ import annotations

from pathlib import Path

from wfsidecar.app import App
from wfsidecar.config import load
from wfsidecar.security.access import Role

TOKENS = {Role.ADMIN: "admin-secret-1", Role.READ_ONLY: "reader-secret-2",
          Role.WORKER: "worker-secret-3"}
WRONG = "not-a-token-xyz"


def secured(tmp_path: Path, **overrides: object) -> App:
    return App(load(None, env={}, overrides={
        "listeners.dapr_grpc.port": 0, "listeners.durabletask_grpc.port": 0,
        "listeners.http.port": 0, "store.sqlite.path": str(tmp_path / "wf.db"),
        "lifecycle.drain_timeout": 1.0,
        "security.api_token": TOKENS[Role.ADMIN],
        "security.read_token": TOKENS[Role.READ_ONLY],
        "security.worker_token": TOKENS[Role.WORKER], **overrides}), configure_logging=False)
