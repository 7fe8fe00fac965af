"""The harness's management client: RPCs of either dialect that ride out daemon restarts.

While the daemon is down (or dies mid-call) an RPC fails with UNAVAILABLE or hits its
deadline; ``call`` retries it until ``patience`` runs out. A retried write may already
have been committed before the kill, so every operation here is written to be safe to
repeat: a start first asks whether the instance exists, a second terminate or purge of
the same instance is taken as success, and a repeated event is harmless to the
workloads (each waits for one "go" and ignores a buffered second one).
"""

from __future__ import annotations

import asyncio
import json
import time
from types import ModuleType
from typing import Any

import grpc
from google.protobuf import wrappers_pb2

from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb

SERVICE = "/TaskHubSidecarService/"
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                       grpc.StatusCode.CANCELLED, grpc.StatusCode.UNKNOWN})
# The same numbers in both dialects (the Microsoft one lacks only STALLED).
STATUS_NAMES = {v: k.removeprefix("ORCHESTRATION_STATUS_")
                for k, v in pb.OrchestrationStatus.items()}


class ChaosClient:
    def __init__(self, channel: grpc.aio.Channel, *, dialect: ModuleType = pb,
                 patience: float = 120) -> None:
        """``dialect``: the generated proto module of the listener ``channel`` reaches."""
        self._channel = channel
        self._pb = dialect
        self._patience = patience
        self.retries = 0

    async def call(self, method: str, request: Any, response: Any, *,
                   ok: frozenset[grpc.StatusCode] = frozenset(), per_try: float = 10) -> Any:
        """Call until it succeeds; a status in ``ok`` returns None instead of raising."""
        rpc = self._channel.unary_unary(SERVICE + method,
                                        request_serializer=lambda m: m.SerializeToString(),
                                        response_deserializer=response.FromString)
        deadline = time.monotonic() + self._patience
        while True:
            try:
                return await rpc(request, timeout=per_try, wait_for_ready=True)
            except grpc.aio.AioRpcError as exc:
                if exc.code() in ok:
                    return None
                if exc.code() not in RETRYABLE or time.monotonic() > deadline:
                    raise
                self.retries += 1
                await asyncio.sleep(0.05)

    async def get(self, instance_id: str) -> Any:
        found = await self.call("GetInstance", self._pb.GetInstanceRequest(
            instanceId=instance_id, getInputsAndOutputs=True), self._pb.GetInstanceResponse)
        return found.orchestrationState if found.exists else None

    async def status(self, instance_id: str) -> str | None:
        state = await self.get(instance_id)
        return None if state is None else STATUS_NAMES[state.orchestrationStatus]

    async def start(self, instance_id: str, workflow: str, value: object) -> None:
        request = self._pb.CreateInstanceRequest(instanceId=instance_id, name=workflow,
                                           input=wrappers_pb2.StringValue(value=json.dumps(value)))
        while True:
            # A start acknowledged by a daemon that died before answering is already in
            # the store; starting it again could replace a fast, completed instance.
            if await self.get(instance_id) is not None:
                return
            try:
                await self.call("StartInstance", request, self._pb.CreateInstanceResponse,
                                ok=frozenset({grpc.StatusCode.ALREADY_EXISTS}))
                return
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in RETRYABLE:
                    raise

    async def raise_event(self, instance_id: str, name: str, value: object) -> None:
        await self.call("RaiseEvent", self._pb.RaiseEventRequest(
            instanceId=instance_id, name=name,
            input=wrappers_pb2.StringValue(value=json.dumps(value))),
            self._pb.RaiseEventResponse)

    async def suspend(self, instance_id: str) -> None:
        await self.call("SuspendInstance", self._pb.SuspendRequest(instanceId=instance_id),
                        self._pb.SuspendResponse)

    async def resume(self, instance_id: str) -> None:
        await self.call("ResumeInstance", self._pb.ResumeRequest(instanceId=instance_id),
                        self._pb.ResumeResponse)

    async def terminate(self, instance_id: str) -> None:
        # A repeat after a lost acknowledgement finds the instance already terminal.
        await self.call("TerminateInstance", self._pb.TerminateRequest(
            instanceId=instance_id), self._pb.TerminateResponse,
            ok=frozenset({grpc.StatusCode.FAILED_PRECONDITION}))

    async def purge(self, instance_id: str) -> None:
        await self.call("PurgeInstances", self._pb.PurgeInstancesRequest(
            instanceId=instance_id), self._pb.PurgeInstancesResponse,
            ok=frozenset({grpc.StatusCode.NOT_FOUND}))

    async def wait_terminal(self, instance_id: str, *, poll: float = 0.2,
                            patience: float = 300) -> Any:
        """Poll until the instance is terminal (polling, not a long poll: long polls
        would pile up thousands of parked calls per restart at 10,000 workflows)."""
        deadline = time.monotonic() + patience
        while True:
            state = await self.get(instance_id)
            if state is not None and STATUS_NAMES[state.orchestrationStatus] in TERMINAL:
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"{instance_id} not terminal after {patience}s: "
                                     f"{None if state is None else state}")
            await asyncio.sleep(poll)


TERMINAL = frozenset({"COMPLETED", "FAILED", "TERMINATED"})
