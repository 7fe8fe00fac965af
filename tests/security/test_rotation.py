"""Token files re-read without a restart (issue #13 item 1): during a rotation the file
holds the old and the new token, both valid; once the old line goes, the old token is
refused on both edges. A file emptied for a moment keeps what it held."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path

import aiohttp
import grpc
import pytest

from tests.test_app import running
from wfsidecar.app import App
from wfsidecar.config import load

HELLO = "/TaskHubSidecarService/Hello"


async def _grpc_ok(port: int, token: str) -> grpc.StatusCode:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            await channel.unary_unary(HELLO)(
                b"", metadata=(("authorization", f"Bearer {token}"),), timeout=5)
        except grpc.aio.AioRpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


async def _http_status(port: int, token: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(
            f"http://127.0.0.1:{port}/v1.0/metadata",
            headers={"dapr-api-token": token}) as reply:
        return reply.status


async def _eventually(check: object, expected: object) -> None:
    deadline = asyncio.get_running_loop().time() + 5.0
    while True:
        got = await check()  # type: ignore[operator]
        if got == expected or asyncio.get_running_loop().time() > deadline:
            assert got == expected
            return
        await asyncio.sleep(0.05)


async def test_rotating_the_token_file_needs_no_restart(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    tokens = tmp_path / "tokens"
    await asyncio.to_thread(tokens.write_text, "# admin tokens\nold-token\n")
    app = App(load(None, env={}, overrides={
        "listeners.dapr_grpc.port": 0, "listeners.durabletask_grpc.port": 0,
        "listeners.http.port": 0, "store.backend": "memory",
        "security.api_token_file": str(tokens), "security.reload_interval": 0.05}),
        configure_logging=False)
    caplog.set_level(logging.INFO, logger="wfsidecar.security")
    async with running(app):
        assert app.ports is not None
        grpc_port, http_port = app.ports.dapr_grpc, app.ports.http
        assert await _grpc_ok(grpc_port, "old-token") is grpc.StatusCode.OK
        assert await _grpc_ok(grpc_port, "new-token") is grpc.StatusCode.UNAUTHENTICATED
        # Kubernetes swaps a Secret's files by renaming; write then rename the same way.
        await _replace(tokens, "old-token\nnew-token\n")
        await _eventually(lambda: _grpc_ok(grpc_port, "new-token"), grpc.StatusCode.OK)
        assert await _grpc_ok(grpc_port, "old-token") is grpc.StatusCode.OK
        assert await _http_status(http_port, "new-token") == 200
        # The re-read is logged with the tokens' ids, never the tokens.
        ids = [hashlib.sha256(t.encode()).hexdigest()[:8] for t in ("old-token", "new-token")]
        reread = [r.getMessage() for r in caplog.records if "re-read" in r.getMessage()]
        assert any(f"(ids {ids[0]}, {ids[1]})" in line for line in reread), reread
        assert not any("new-token" in r.getMessage() for r in caplog.records)
        await _replace(tokens, "")  # half-way through a write: nobody is locked out
        await asyncio.sleep(0.3)
        assert await _grpc_ok(grpc_port, "new-token") is grpc.StatusCode.OK
        await _replace(tokens, "new-token\n")
        await _eventually(lambda: _grpc_ok(grpc_port, "old-token"),
                          grpc.StatusCode.UNAUTHENTICATED)
        assert await _http_status(http_port, "old-token") == 401
        assert await _http_status(http_port, "new-token") == 200


async def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".new")
    await asyncio.to_thread(tmp.write_text, text)
    await asyncio.to_thread(tmp.replace, path)
