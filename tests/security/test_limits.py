"""Limits (issue #13 item 4), each refused with an error naming its config key:
work_items.max_streams, work_items.max_in_flight_per_stream, security.rate_limit."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import grpc
import pytest

from tests.security._support import TOKENS, secured
from tests.server.test_dapr_rpcs import SERVICE, Client
from tests.test_app import running
from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb
from wfsidecar.security.access import Role

ADMIN = (("dapr-api-token", TOKENS[Role.ADMIN]),)


class _Authed(Client):
    async def call(self, method: str, request: object, response: object,
                   deadline: float = 10) -> object:
        rpc = self.channel.unary_unary(SERVICE + method,
                                       request_serializer=lambda m: m.SerializeToString(),
                                       response_deserializer=response.FromString)  # type: ignore[attr-defined]
        return await rpc(request, timeout=deadline, metadata=ADMIN)

    def work_items(self, request: pb.GetWorkItemsRequest) -> object:
        rpc = self.channel.unary_stream(SERVICE + "GetWorkItems",
                                        request_serializer=lambda m: m.SerializeToString(),
                                        response_deserializer=pb.WorkItem.FromString)
        return rpc(request, metadata=ADMIN)


async def test_one_stream_too_many_is_refused_naming_the_key(tmp_path: Path) -> None:
    app = secured(tmp_path, **{"work_items.max_streams": 1})
    async with running(app):
        assert app.ports is not None
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.ports.dapr_grpc}") as channel:
            client = _Authed(channel)
            first = client.work_items(pb.GetWorkItemsRequest())
            await client.start("wf-1")
            await asyncio.wait_for(first.read(), 10)  # type: ignore[attr-defined]
            second = client.work_items(pb.GetWorkItemsRequest())
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await asyncio.wait_for(second.read(), 10)  # type: ignore[attr-defined]
            assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "work_items.max_streams" in (refused.value.details() or "")
            first.cancel()  # type: ignore[attr-defined]


async def test_a_stream_gets_no_more_than_its_in_flight_limit(tmp_path: Path) -> None:
    app = secured(tmp_path, **{"work_items.max_in_flight_per_stream": 1})
    async with running(app):
        assert app.ports is not None
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.ports.dapr_grpc}") as channel:
            client = _Authed(channel)
            stream = client.work_items(pb.GetWorkItemsRequest())
            await client.start("wf-1")
            await client.start("wf-2")
            first = await asyncio.wait_for(stream.read(), 10)  # type: ignore[attr-defined]
            with pytest.raises(TimeoutError):  # held back while the first is unanswered
                await asyncio.wait_for(asyncio.shield(pending := asyncio.ensure_future(
                    stream.read())), 0.5)  # type: ignore[attr-defined]
            action = pb.OrchestratorAction(id=-1)
            action.completeOrchestration.orchestrationStatus = pb.ORCHESTRATION_STATUS_COMPLETED
            await client.call("CompleteOrchestratorTask", pb.OrchestratorResponse(
                instanceId=first.orchestratorRequest.instanceId, actions=[action],
                completionToken=first.completionToken), pb.CompleteTaskResponse)
            second = await asyncio.wait_for(pending, 10)
            assert {first.orchestratorRequest.instanceId,
                    second.orchestratorRequest.instanceId} == {"wf-1", "wf-2"}
            stream.cancel()  # type: ignore[attr-defined]


async def test_rate_limit_per_token_on_both_edges(tmp_path: Path) -> None:
    app = secured(tmp_path, **{"security.rate_limit": 0.01, "security.rate_burst": 2})
    async with running(app):
        assert app.ports is not None
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.ports.dapr_grpc}") as channel:
            hello = channel.unary_unary(SERVICE + "Hello")
            await hello(b"", metadata=ADMIN)
            await hello(b"", metadata=ADMIN)
            with pytest.raises(grpc.aio.AioRpcError) as limited:
                await hello(b"", metadata=ADMIN)
            assert limited.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "security.rate_limit" in (limited.value.details() or "")
            # Another token has its own rate.
            await hello(b"", metadata=(("dapr-api-token", TOKENS[Role.READ_ONLY]),))
        async with aiohttp.ClientSession(f"http://127.0.0.1:{app.ports.http}") as session:
            headers = {"Authorization": f"Bearer {TOKENS[Role.READ_ONLY]}"}
            statuses = []
            for _ in range(2):
                async with session.get("/v1.0/metadata", headers=headers) as reply:
                    statuses.append(reply.status)
                    body = await reply.text()
            assert statuses == [200, 429]
            assert "ERR_TOO_MANY_REQUESTS" in body and "security.rate_limit" in body
            async with session.get("/v1.0/healthz") as reply:  # health is never limited
                assert reply.status in (204, 503)
