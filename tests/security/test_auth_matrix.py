"""Every registered RPC of both dialects (and Dapr's runtime API, and gRPC health) and
every HTTP route, called without a token, with a wrong one, and with each role's token:
refused, refused, then accepted or refused exactly as the access tables say. The lists
come from the running daemon (its services, its router), so an RPC or route added
without an access decision fails here (and the daemon refuses to start with one)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest

from tests.security._support import TOKENS, WRONG, secured
from tests.test_app import running
from wfsidecar.app import App
from wfsidecar.health import Readiness
from wfsidecar.http import auth as http_auth
from wfsidecar.http.server import build_app
from wfsidecar.security.access import Access, Role, allowed
from wfsidecar.server import auth as grpc_auth

STREAMS = {"GetWorkItems", "StreamInstanceHistory"}
DENIED = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}
# ms-only and dapr-only names: each listener serves its own dialect's methods.
DAPR_ONLY = {"CompleteWorkflowTask", "ListInstanceIDs", "GetInstanceHistory",
             "RerunWorkflowFromEvent"}


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[App]:
    daemon = secured(tmp_path, **{"testing.allow_task_hub_reset": True})
    async with running(daemon):
        yield daemon


async def _grpc_call(channel: grpc.aio.Channel, method: str,
                     metadata: tuple[tuple[str, str], ...]) -> tuple[grpc.StatusCode, str]:
    name = method.rsplit("/", 1)[-1]
    try:
        if name in STREAMS and method.startswith(grpc_auth.SIDECAR):
            call = channel.unary_stream(method)(b"", metadata=metadata, timeout=5)
            try:
                await asyncio.wait_for(call.read(), 0.5)
            except TimeoutError:
                call.cancel()
                return grpc.StatusCode.OK, ""  # streaming: it was let in
        else:
            # Long polls (WaitForInstance*) may run to their deadline: let in all the same.
            await channel.unary_unary(method)(b"", metadata=metadata, timeout=1.5)
    except grpc.aio.AioRpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


def _metadata(role: Role | None, token: str | None, style: int) -> tuple[tuple[str, str], ...]:
    if token is None:
        return ()
    # Both ways clients send it: Dapr's metadata key and the Microsoft SDKs' bearer.
    return (("dapr-api-token", token),) if style % 2 else (("authorization", f"Bearer {token}"),)


async def test_every_rpc_refused_without_or_with_a_wrong_token_and_decided_per_role(
        app: App) -> None:
    assert app.ports is not None
    methods = list(app.grpc_methods)
    assert len(methods) > 40 and not grpc_auth.undecided(methods)
    # Plus health (public), a method of Dapr's runtime API that is not served, and a
    # service that does not exist: both UNIMPLEMENTED, and only to a caller with a token.
    methods += [grpc_auth.HEALTH + "Check", "/dapr.proto.runtime.v1.Dapr/GetState",
                "/no.such.Service/Method"]
    cells = 0
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.ports.dapr_grpc}") as dapr, \
            grpc.aio.insecure_channel(f"127.0.0.1:{app.ports.durabletask_grpc}") as ms:
        for index, method in enumerate(methods):
            name = method.rsplit("/", 1)[-1]
            if not method.startswith(grpc_auth.SIDECAR) or name in DAPR_ONLY:
                channels = [dapr]
            else:
                channels = [ms, dapr] if _on_dapr(name) else [ms]
            access = grpc_auth.access_of(method)
            for channel in channels:
                for token in (None, WRONG):
                    code, details = await _grpc_call(channel, method, _metadata(None, token, index))
                    cells += 1
                    if access is Access.PUBLIC:
                        assert code not in DENIED, (method, code)
                        continue
                    assert code is grpc.StatusCode.UNAUTHENTICATED, (method, token, code)
                    assert WRONG not in details
                for role, token in TOKENS.items():
                    code, details = await _grpc_call(channel, method,
                                                     _metadata(role, token, index + 1))
                    cells += 1
                    if allowed(role, access):
                        assert code not in DENIED, (method, role, code, details)
                    else:
                        assert code is grpc.StatusCode.PERMISSION_DENIED, (method, role, code)
                        assert token not in details and role.value in details
    print(f"gRPC auth matrix: {len(methods)} methods, {cells} calls")


def _on_dapr(name: str) -> bool:
    # Shared TaskHubSidecarService methods are served on both listeners; ms-only are not.
    return name in {"Hello", "StartInstance", "GetInstance", "WaitForInstanceStart",
                    "WaitForInstanceCompletion", "RaiseEvent", "TerminateInstance",
                    "SuspendInstance", "ResumeInstance", "PurgeInstances",
                    "CompleteOrchestratorTask", "CompleteActivityTask", "GetWorkItems"}


def _concrete(template: str) -> str:
    values = {"component": "dapr", "instanceID": "i-1", "workflowName": "wf",
              "eventName": "ev", "asset": "js/app.js"}
    return re.sub(r"\{(\w+)(?::[^}]*)?\}", lambda m: values[m.group(1)], template)


def _routes() -> list[tuple[str, str]]:
    probe = build_app(Readiness(), api=object())  # type: ignore[arg-type]
    routes = []
    for route in probe.router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue
        routes.append((route.method, route.resource.canonical))
    return routes


async def test_every_http_route_refused_without_or_with_a_wrong_token_and_decided_per_role(
        app: App) -> None:
    assert app.ports is not None
    routes = _routes()
    assert len(routes) > 40
    base = f"http://127.0.0.1:{app.ports.http}"
    cells = 0
    async with aiohttp.ClientSession(base) as session:
        for index, (method, template) in enumerate(routes):
            access = http_auth.ROUTE_ACCESS[http_auth.route_key(method, template)]
            path = _concrete(template)

            async def call(token: str | None, style: int,
                           method: str = method, path: str = path) -> tuple[int, Any]:
                headers = dict(_metadata(None, token, style))
                if "authorization" in headers:
                    headers["Authorization"] = headers.pop("authorization")
                async with session.request(method, path, headers=headers,
                                           data=b"" if method == "POST" else None) as reply:
                    return reply.status, await reply.text()

            for token in (None, WRONG):
                status, body = await call(token, index)
                cells += 1
                if access is Access.PUBLIC:
                    assert status not in (401, 403), (method, template)
                    continue
                assert status == 401, (method, template, token, status, body)
                assert WRONG not in body and "ERR_API_TOKEN" in body
            for role, token in TOKENS.items():
                status, body = await call(token, index + 1)
                cells += 1
                if allowed(role, access):
                    assert status not in (401, 403), (method, template, role, status, body)
                else:
                    assert status == 403, (method, template, role, status, body)
                    assert token not in body and "ERR_PERMISSION_DENIED" in body
        # An unknown route: 401 without a token, 404 with any valid one.
        async with session.get("/v1.0/nothing") as reply:
            assert reply.status == 401
        async with session.get("/v1.0/nothing",
                               headers={"dapr-api-token": TOKENS[Role.READ_ONLY]}) as reply:
            assert reply.status == 404
    print(f"HTTP auth matrix: {len(routes)} routes, {cells} calls")


def test_tables_decide_every_registered_route_and_nothing_else_is_public() -> None:
    assert http_auth.undecided(build_app(Readiness(), api=object())) == []  # type: ignore[arg-type]
    public_http = {k for k, v in http_auth.ROUTE_ACCESS.items() if v is Access.PUBLIC}
    # Health, as in Dapr, and the dashboard's static files (no data in them; what they
    # fetch is the API, which needs a token).
    assert public_http == {("GET", "/healthz"), ("GET", "/healthz/outbound"),
                           ("GET", "/ui"), ("GET", "/ui/"), ("GET", "/ui/{asset}")}
    public_grpc = {k for k, v in grpc_auth.ACCESS.items() if v is Access.PUBLIC}
    assert public_grpc == {grpc_auth.HEALTH + "Check", grpc_auth.HEALTH + "Watch"}
    # A read-only token can never pull or answer work items.
    for method, access in grpc_auth.ACCESS.items():
        if "WorkItem" in method or "Complete" in method:
            assert not allowed(Role.READ_ONLY, access), method
