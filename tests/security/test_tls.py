"""TLS on every listener (issue #13 item 3), against certificates the test makes: gRPC
and HTTPS with the admin token, a plaintext client refused; mutual TLS refusing clients
without a certificate or with one from another CA; certificate files replaced while the
daemon runs and served to new connections without a restart; `wfsidecar health` over
HTTPS."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import grpc
import pytest

from tests.security._certs import Authority, Pair
from tests.security._support import TOKENS, secured
from tests.test_app import running
from wfsidecar.app import App
from wfsidecar.cli_probe import probe as _probe
from wfsidecar.security.access import Role

HELLO = "/TaskHubSidecarService/Hello"
ADMIN = (("authorization", f"Bearer {TOKENS[Role.ADMIN]}"),)


class Pki:
    def __init__(self, root: Path) -> None:
        self.ca = Authority(root, "main")
        self.server = self.ca.issue("server", server=True)
        self.client = self.ca.issue("client", server=False)
        self.rogue_ca = Authority(root, "rogue")
        self.rogue = self.rogue_ca.issue("client", server=False)
        self.next_ca = Authority(root, "next")
        self.next_server = self.next_ca.issue("server", server=True)
        self.live = Pair(root / "live.pem", root / "live.key")  # what the daemon reads
        self.live.cert.write_bytes(self.server.cert.read_bytes())
        self.live.key.write_bytes(self.server.key.read_bytes())


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


def _tls_app(tmp_path: Path, pki: Pki, *, mutual: bool) -> App:
    extra: dict[str, object] = {"security.tls.cert_file": str(pki.live.cert),
                                "security.tls.key_file": str(pki.live.key),
                                "security.reload_interval": 0.05}
    if mutual:
        extra["security.tls.client_ca_file"] = str(pki.ca.cert)
    return secured(tmp_path, **extra)


@pytest.fixture
async def tls_app(tmp_path: Path, pki: Pki) -> AsyncIterator[App]:
    app = _tls_app(tmp_path, pki, mutual=False)
    async with running(app):
        yield app


@pytest.fixture
async def mtls_app(tmp_path: Path, pki: Pki) -> AsyncIterator[App]:
    app = _tls_app(tmp_path, pki, mutual=True)
    async with running(app):
        yield app


async def _hello(port: int, root: Path, client: Pair | None = None) -> grpc.StatusCode:
    root_pem = await asyncio.to_thread(root.read_bytes)
    key = cert = None
    if client is not None:
        key, cert = await asyncio.to_thread(client.key.read_bytes), await asyncio.to_thread(
            client.cert.read_bytes)
    credentials = grpc.ssl_channel_credentials(root_pem, key, cert)
    async with grpc.aio.secure_channel(f"localhost:{port}", credentials) as channel:
        try:
            await channel.unary_unary(HELLO)(b"", metadata=ADMIN, timeout=5)
        except grpc.aio.AioRpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


def _client_context(root: Path, client: Pair | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(root))
    if client is not None:
        context.load_cert_chain(client.cert, client.key)
    return context


async def _https(port: int, context: ssl.SSLContext, host: str = "localhost") -> int:
    async with aiohttp.ClientSession() as session, session.get(
            f"https://{host}:{port}/v1.0/metadata", ssl=context,
            headers={"dapr-api-token": TOKENS[Role.ADMIN]}) as reply:
        return reply.status


async def test_tls_on_both_grpc_listeners_and_http(tls_app: App, pki: Pki) -> None:
    ports = tls_app.ports
    assert ports is not None
    for port in (ports.dapr_grpc, ports.durabletask_grpc):
        assert await _hello(port, pki.ca.cert) is grpc.StatusCode.OK
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as plain:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await plain.unary_unary(HELLO)(b"", metadata=ADMIN, timeout=5)
            assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
    context = await asyncio.to_thread(_client_context, pki.ca.cert)
    assert await _https(ports.http, context) == 200
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError):  # plain HTTP to a TLS port
            async with session.get(f"http://127.0.0.1:{ports.http}/v1.0/healthz"):
                pass
    healthy, message = await asyncio.to_thread(
        _probe, "127.0.0.1", ports.http, 5, ssl._create_unverified_context())
    assert healthy, message
    assert message.startswith("healthy: https://")


async def test_mutual_tls_refuses_clients_without_the_right_certificate(
        mtls_app: App, pki: Pki) -> None:
    ports = mtls_app.ports
    assert ports is not None
    for port in (ports.dapr_grpc, ports.durabletask_grpc):
        assert await _hello(port, pki.ca.cert, pki.client) is grpc.StatusCode.OK
        assert await _hello(port, pki.ca.cert) is grpc.StatusCode.UNAVAILABLE
        assert await _hello(port, pki.ca.cert, pki.rogue) is grpc.StatusCode.UNAVAILABLE
    good = await asyncio.to_thread(_client_context, pki.ca.cert, pki.client)
    assert await _https(ports.http, good) == 200
    for bad in (await asyncio.to_thread(_client_context, pki.ca.cert),
                await asyncio.to_thread(_client_context, pki.ca.cert, pki.rogue)):
        with pytest.raises(aiohttp.ClientError):
            await _https(ports.http, bad)


async def test_replaced_certificate_files_are_served_without_a_restart(
        tls_app: App, pki: Pki) -> None:
    ports = tls_app.ports
    assert ports is not None
    assert await _hello(ports.dapr_grpc, pki.next_ca.cert) is grpc.StatusCode.UNAVAILABLE
    # A key that does not match its certificate (a renewal half-way): the old pair stays.
    await asyncio.to_thread(pki.live.cert.write_bytes, pki.next_server.cert.read_bytes())
    await asyncio.sleep(0.3)
    assert await _hello(ports.dapr_grpc, pki.ca.cert) is grpc.StatusCode.OK
    await asyncio.to_thread(pki.live.key.write_bytes, pki.next_server.key.read_bytes())
    for _ in range(100):
        if await _hello(ports.dapr_grpc, pki.next_ca.cert) is grpc.StatusCode.OK:
            break
        await asyncio.sleep(0.05)
    for port in (ports.dapr_grpc, ports.durabletask_grpc):
        assert await _hello(port, pki.next_ca.cert) is grpc.StatusCode.OK
        assert await _hello(port, pki.ca.cert) is grpc.StatusCode.UNAVAILABLE
    context = await asyncio.to_thread(_client_context, pki.next_ca.cert)
    assert await _https(ports.http, context) == 200
    assert await _https(ports.http, context, "127.0.0.1") == 200  # no SNI sent for an IP
    old = await asyncio.to_thread(_client_context, pki.ca.cert)
    with pytest.raises(aiohttp.ClientError):
        await _https(ports.http, old)


async def test_the_operator_cli_over_https_with_tokens(tls_app: App, pki: Pki) -> None:
    from click.testing import CliRunner

    from wfsidecar.cli import main

    ports = tls_app.ports
    assert ports is not None
    base = ["--address", f"https://localhost:{ports.http}", "--ca-file", str(pki.ca.cert)]

    def wf(*args: str, token: str | None = None) -> tuple[int, str]:
        env = {"WFSIDECAR_API_TOKEN": token} if token else {}
        result = CliRunner().invoke(main, ["workflow", *args, *base], env=env)
        return result.exit_code, result.output

    code, out = await asyncio.to_thread(wf, "list", token=TOKENS[Role.READ_ONLY])
    assert code == 0, out
    code, out = await asyncio.to_thread(wf, "list")
    assert code == 1 and "ERR_API_TOKEN_MISSING" in out
    code, out = await asyncio.to_thread(wf, "run", "wf", "--instance-id", "cli-1",
                                        token=TOKENS[Role.READ_ONLY])
    assert code == 1 and "ERR_PERMISSION_DENIED" in out
    code, out = await asyncio.to_thread(wf, "run", "wf", "--instance-id", "cli-1",
                                        token=TOKENS[Role.ADMIN])
    assert code == 0, out


async def test_wfsidecar_health_under_mutual_tls_shows_the_servers_certificate(
        tmp_path: Path, pki: Pki) -> None:
    from wfsidecar.cli_probe import probe_tls as _probe_tls

    # The probe presents the server's own pair: it must be fit for client auth as well.
    dual = await asyncio.to_thread(pki.ca.issue, "dual", server=True, client_too=True)
    await asyncio.to_thread(pki.live.cert.write_bytes, dual.cert.read_bytes())
    await asyncio.to_thread(pki.live.key.write_bytes, dual.key.read_bytes())
    app = _tls_app(tmp_path, pki, mutual=True)
    async with running(app):
        assert app.ports is not None
        port = app.ports.http
        context = await asyncio.to_thread(_probe_tls, app.config)
        assert context is not None
        healthy, message = await asyncio.to_thread(_probe, "127.0.0.1", port, 5, context)
        assert healthy, message
        bare = ssl._create_unverified_context()  # no client certificate: refused
        healthy, message = await asyncio.to_thread(_probe, "127.0.0.1", port, 5, bare)
        assert not healthy
