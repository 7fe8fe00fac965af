"""Real SDK workers and clients against `wfsidecar run` with tokens, TLS and mutual TLS
(issue #13 items 1 and 3): the Dapr SDK (dapr-ext-workflow 1.18.3) configured only by
DAPR_API_TOKEN and an https:// (or ?tls=true) DAPR_GRPC_ENDPOINT, the Microsoft SDK
(durabletask 1.12) with a bearer token and secure_channel=True, each running a workflow
with an activity end to end; the wrong token, the wrong role, a plaintext client and a
client without the right certificate refused. Certificates are made by the test
(``cryptography``)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon import WFSIDECAR, Daemon, daemon_args
from tests.sdk_envs import sdk_python
from tests.security._certs import Authority, Pair

HERE = Path(__file__).parent
ADMIN, READER, WORKER = "sdk-admin-token", "sdk-read-token", "sdk-worker-token"
TOKENS = {"DAPR_API_TOKEN": ADMIN, "WFSIDECAR_SECURITY__READ_TOKEN": READER,
          "WFSIDECAR_SECURITY__WORKER_TOKEN": WORKER}

pytestmark = pytest.mark.slow


class Pki:
    def __init__(self, root: Path) -> None:
        self.ca = Authority(root, "main")
        self.server = self.ca.issue("server", server=True)
        self.client = self.ca.issue("client", server=False)
        self.rogue = Authority(root, "rogue").issue("client", server=False)


def _app(sdk: str, script: str, mode: str, tmp: Path, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("PYTHONPATH", "DAPR_API_TOKEN") and not k.startswith("WFSIDECAR_")}
    done = subprocess.run([str(sdk_python(sdk)), str(HERE / script), mode],
                          env={**clean, **env}, capture_output=True, text=True, cwd=tmp,
                          timeout=120)
    lines = done.stdout.strip().splitlines()
    assert lines, f"{script} {mode} printed nothing (exit {done.returncode}): {done.stderr}"
    return lines[-1]


def _dapr(mode: str, tmp: Path, endpoint: str, token: str | None, **env: str) -> str:
    extra = {"DAPR_GRPC_ENDPOINT": endpoint, **env}
    if token is not None:
        extra["DAPR_API_TOKEN"] = token
    return _app("dapr-ext-118", "dapr_app.py", mode, tmp, **extra)


def _ms(mode: str, tmp: Path, address: str, token: str, secure: bool, **env: str) -> str:
    return _app("durabletask-112", "ms_app.py", mode, tmp, DT_ADDRESS=address,
                DT_TOKEN=token, DT_SECURE="1" if secure else "0", **env)


def _start(spawn: Callable[..., Daemon], tmp: Path, **env: str) -> dict[str, int]:
    daemon = spawn([*WFSIDECAR, *daemon_args(tmp)], **TOKENS, **env)
    return daemon.wait_ready()


def _tls_env(pki: Pki, mutual: bool) -> dict[str, str]:
    env = {"WFSIDECAR_SECURITY__TLS__CERT_FILE": str(pki.server.cert),
           "WFSIDECAR_SECURITY__TLS__KEY_FILE": str(pki.server.key)}
    if mutual:
        env["WFSIDECAR_SECURITY__TLS__CLIENT_CA_FILE"] = str(pki.ca.cert)
    return env


def _cert(pair: Pair) -> dict[str, str]:
    return {"CLIENT_CERT": str(pair.cert), "CLIENT_KEY": str(pair.key)}


def test_sdks_with_tokens(tmp_path: Path, spawn: Callable[..., Daemon]) -> None:
    ports = _start(spawn, tmp_path)
    dapr, ms = f"localhost:{ports['dapr_grpc_port']}", f"localhost:{ports['durabletask_grpc_port']}"
    assert _dapr("run", tmp_path, dapr, ADMIN) == 'COMPLETED "hello dapr"'
    assert _ms("run", tmp_path, ms, ADMIN, False) == 'COMPLETED "hello ms"'
    # Roles: the worker pulls work with the worker token, the client starts with admin's.
    assert _ms("run", tmp_path, ms, WORKER, False,
               DT_CLIENT_TOKEN=ADMIN) == 'COMPLETED "hello ms"'
    assert _dapr("call", tmp_path, dapr, None) == "REFUSED UNAUTHENTICATED"
    assert _dapr("call", tmp_path, dapr, "wrong") == "REFUSED UNAUTHENTICATED"
    assert _dapr("call", tmp_path, dapr, READER) == "REFUSED PERMISSION_DENIED"
    assert _ms("call", tmp_path, ms, WORKER, False) == "REFUSED PERMISSION_DENIED"
    assert _ms("call", tmp_path, ms, "wrong", False) == "REFUSED UNAUTHENTICATED"


def test_sdks_over_tls(tmp_path: Path, spawn: Callable[..., Daemon]) -> None:
    pki = Pki(tmp_path)
    ports = _start(spawn, tmp_path, **_tls_env(pki, mutual=False))
    roots = {"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": str(pki.ca.cert)}
    dapr_port, ms_port = ports["dapr_grpc_port"], ports["durabletask_grpc_port"]
    # The Python SDK's two spellings of a TLS endpoint (1.18 has no grpcs:// scheme).
    assert _dapr("run", tmp_path, f"https://localhost:{dapr_port}", ADMIN,
                 **roots) == 'COMPLETED "hello dapr"'
    assert _dapr("call", tmp_path, f"localhost:{dapr_port}?tls=true", ADMIN, **roots) == "OK"
    assert _ms("run", tmp_path, f"localhost:{ms_port}", ADMIN, True,
               **roots) == 'COMPLETED "hello ms"'
    # Plaintext to a TLS listener, and TLS without trusting the daemon's CA.
    assert _dapr("call", tmp_path, f"localhost:{dapr_port}", ADMIN) == "REFUSED UNAVAILABLE"
    assert _ms("call", tmp_path, f"localhost:{ms_port}", ADMIN, True) == "REFUSED UNAVAILABLE"


def test_sdks_over_mutual_tls(tmp_path: Path, spawn: Callable[..., Daemon]) -> None:
    pki = Pki(tmp_path)
    ports = _start(spawn, tmp_path, **_tls_env(pki, mutual=True))
    roots = {"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": str(pki.ca.cert)}
    dapr = f"https://localhost:{ports['dapr_grpc_port']}"
    ms = f"localhost:{ports['durabletask_grpc_port']}"
    assert _dapr("run", tmp_path, dapr, ADMIN, **roots,
                 **_cert(pki.client)) == 'COMPLETED "hello dapr"'
    assert _ms("run", tmp_path, ms, ADMIN, True, **roots,
               **_cert(pki.client)) == 'COMPLETED "hello ms"'
    # Without a client certificate, or with one from another CA: refused in the handshake.
    assert _dapr("call", tmp_path, dapr, ADMIN, **roots) == "REFUSED UNAVAILABLE"
    assert _dapr("call", tmp_path, dapr, ADMIN, **roots,
                 **_cert(pki.rogue)) == "REFUSED UNAVAILABLE"
    assert _ms("call", tmp_path, ms, ADMIN, True, **roots) == "REFUSED UNAVAILABLE"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
