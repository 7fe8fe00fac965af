"""The audit log: one line per management call on either edge (operation, target, role,
peer, outcome), refused attempts included; never a token, never a read."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import aiohttp
import grpc
import pytest

from tests.security._support import TOKENS, secured
from tests.test_app import running
from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb
from wfsidecar.security.access import Role


async def test_management_calls_are_audited_without_tokens(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    app = secured(tmp_path)
    with caplog.at_level(logging.INFO, logger="wfsidecar.audit"):
        async with running(app):
            assert app.ports is not None
            async with grpc.aio.insecure_channel(f"127.0.0.1:{app.ports.dapr_grpc}") as ch:
                start = ch.unary_unary("/TaskHubSidecarService/StartInstance",
                                       request_serializer=lambda m: m.SerializeToString())
                await start(pb.CreateInstanceRequest(instanceId="audited-1", name="wf"),
                            metadata=(("dapr-api-token", TOKENS[Role.ADMIN]),))
                with pytest.raises(grpc.aio.AioRpcError):
                    await start(pb.CreateInstanceRequest(instanceId="audited-2", name="wf"),
                                metadata=(("dapr-api-token", TOKENS[Role.READ_ONLY]),))
            base = f"http://127.0.0.1:{app.ports.http}/v1.0/workflows/dapr"
            async with aiohttp.ClientSession() as session:
                headers = {"Authorization": f"Bearer {TOKENS[Role.ADMIN]}"}
                async with session.post(f"{base}/audited-1/terminate", headers=headers) as r:
                    assert r.status == 202
                async with session.get(f"{base}/audited-1", headers=headers) as r:
                    assert r.status == 200  # a read: not audited
                async with session.post(f"{base}/purge?status=TERMINATED&dryRun=true",
                                        headers=headers) as r:
                    assert r.status == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "wfsidecar.audit"]
    assert len(lines) == 4, lines
    started, refused, terminated, bulk = lines
    admin_id = hashlib.sha256(TOKENS[Role.ADMIN].encode()).hexdigest()[:8]
    reader_id = hashlib.sha256(TOKENS[Role.READ_ONLY].encode()).hexdigest()[:8]
    assert f"op=StartInstance target=instance=audited-1 role=admin token={admin_id} " in started
    assert "outcome=OK" in started and "peer=ipv4:127.0.0.1:" in started
    assert f"instance=audited-2 role=read-only token={reader_id} " in refused
    assert "outcome=PERMISSION_DENIED" in refused
    assert f"/terminate target=instance=audited-1 role=admin token={admin_id} peer=127.0.0.1" \
        in terminated
    assert "outcome=202" in terminated
    assert "filter=status=TERMINATED&dryRun=true" in bulk
    for line in lines:
        assert all(token not in line for token in TOKENS.values())
