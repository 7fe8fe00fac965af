"""The Microsoft dialect's own RPCs on top of the shared TaskHubSidecarService."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from wfsidecar._proto.internal import orchestrator_service_pb2 as ipb
from wfsidecar.engine import TERMINAL
from wfsidecar.server import convert
from wfsidecar.server.dialect import MICROSOFT
from wfsidecar.server.sidecar_service import Ctx, Rpc, SidecarService
from wfsidecar.store.instances import InstanceFilter, InstanceQuery, page_size
from wfsidecar.telemetry.observer import NULL, Observer
from wfsidecar.workflow.dispatch import WorkItemDispatcher
from wfsidecar.workflow.entity_actor import EntitySnapshot
from wfsidecar.workflow.entity_service import EntityFilter, EntityService
from wfsidecar.workflow.requests import Dialect, RunningPurge
from wfsidecar.workflow.service import WorkflowService
from wfsidecar.workflow.task_hub import TaskHubReset
from wfsidecar.workflow.work_item import observed

HISTORY_CHUNK = 500  # events per HistoryChunk


class MsSidecarService(SidecarService):
    def __init__(self, service: WorkflowService, dispatcher: WorkItemDispatcher,
                 entities: EntityService, *, ping_interval: float = 30.0,
                 max_message_size: int = 64 * 1024 * 1024,
                 task_hub: TaskHubReset | None = None, observer: Observer = NULL) -> None:
        super().__init__(service, dispatcher, MICROSOFT, ping_interval=ping_interval,
                         max_message_size=max_message_size, observer=observer)
        self._entities = entities
        self._task_hub = task_hub  # None: CreateTaskHub/DeleteTaskHub stay UNIMPLEMENTED

    def rpcs(self) -> dict[str, tuple[Rpc, str]]:
        return {
            **super().rpcs(),
            "QueryInstances": (self.query_instances, "QueryInstancesRequest"),
            "ListInstanceIds": (self.list_instance_ids, "ListInstanceIdsRequest"),
            "RestartInstance": (self.restart, "RestartInstanceRequest"),
            "RewindInstance": (self.rewind, "RewindInstanceRequest"),
            "AbandonTaskOrchestratorWorkItem": (
                self.abandon_orchestrator, "AbandonOrchestrationTaskRequest"),
            "AbandonTaskActivityWorkItem": (self.abandon_activity, "AbandonActivityTaskRequest"),
            "AbandonTaskEntityWorkItem": (self.abandon_entity, "AbandonEntityTaskRequest"),
            "SignalEntity": (self.signal_entity, "SignalEntityRequest"),
            "GetEntity": (self.get_entity, "GetEntityRequest"),
            "QueryEntities": (self.query_entities, "QueryEntitiesRequest"),
            "CleanEntityStorage": (self.clean_entities, "CleanEntityStorageRequest"),
            "CompleteEntityTask": (self.complete_entity, "EntityBatchResult"),
            **self._task_hub_rpcs(),
        }

    def _task_hub_rpcs(self) -> dict[str, tuple[Rpc, str]]:
        if self._task_hub is None:
            return {}  # unregistered methods answer UNIMPLEMENTED
        return {"CreateTaskHub": (self.reset_task_hub, "CreateTaskHubRequest"),
                "DeleteTaskHub": (self.reset_task_hub, "DeleteTaskHubRequest")}

    async def reset_task_hub(self, request: Any, context: Ctx) -> Any:
        assert self._task_hub is not None
        await self._task_hub.wipe()
        name = type(request).__name__.replace("Request", "Response")
        return self._msg(name)

    def streams(self) -> dict[str, tuple[Rpc, str]]:
        return {**super().streams(),
                "StreamInstanceHistory": (self.stream_history, "StreamInstanceHistoryRequest")}

    def start_policy(self, request: Any) -> dict[str, Any]:
        # No policy: any existing instance is a conflict. A policy names the statuses of
        # an existing instance that may be replaced (protocol.md §3.2 StartInstance).
        statuses = request.orchestrationIdReusePolicy.replaceableStatus
        return {"replaceable": frozenset(int(s) for s in statuses)}

    def purge_running(self, request: Any) -> RunningPurge:
        # A Microsoft client purging an instance that is still running gets a count of 0,
        # not an error (the reference in-memory backend and DTS behave so).
        return RunningPurge.SKIP

    async def query_instances(self, request: Any, context: Ctx) -> Any:
        q = request.query
        token = convert.optional_text(q, "continuationToken")
        flt = InstanceFilter(
            statuses=convert.statuses(q.runtimeStatus),
            created_from_ms=convert.optional_ms(q, "createdTimeFrom"),
            created_to_ms=convert.optional_ms(q, "createdTimeTo"),
            id_prefix=convert.optional_text(q, "instanceIdPrefix") or "")
        page = await self._service.list_instances(InstanceQuery(
            flt, "id", descending=False, limit=page_size(q.maxInstanceCount),
            cursor=None if token in (None, "", "0") else token))
        # OrchestrationState carries payloads the index does not: the page's instances
        # (at most one page of them) are read whole.
        found = [s for row in page.rows
                 if (s := await self._service.get(row.instance_id)) is not None]
        response = self._msg("QueryInstancesResponse", orchestrationState=[
            convert.orchestration_state(s, payloads=q.fetchInputsAndOutputs,
                                        dialect=self.dialect) for s in found])
        if page.next_cursor is not None:
            response.continuationToken.value = page.next_cursor
        return response

    async def list_instance_ids(self, request: Any, context: Ctx) -> Any:
        terminal = frozenset(int(s) for s in TERMINAL)
        statuses = convert.statuses(request.runtimeStatus)
        page = await self._service.list_instances(InstanceQuery(InstanceFilter(
            statuses=statuses & terminal if statuses else terminal,
            completed_from_ms=convert.optional_ms(request, "completedTimeFrom"),
            completed_to_ms=convert.optional_ms(request, "completedTimeTo")),
            "completed", descending=False, limit=page_size(request.pageSize),
            cursor=convert.optional_text(request, "lastInstanceKey") or None))
        response = self._msg("ListInstanceIdsResponse",
                             instanceIds=[row.instance_id for row in page.rows])
        if page.next_cursor is not None:
            response.lastInstanceKey.value = page.next_cursor
        return response

    async def restart(self, request: Any, context: Ctx) -> Any:
        instance_id = await self._service.restart(
            request.instanceId, new_instance_id=request.restartWithNewInstanceId,
            dialect=Dialect.MICROSOFT)
        return self._msg("RestartInstanceResponse", instanceId=instance_id)

    async def rewind(self, request: Any, context: Ctx) -> Any:
        await self._service.rewind(request.instanceId, convert.optional_text(request, "reason"))
        return self._msg("RewindInstanceResponse")

    async def abandon_orchestrator(self, request: Any, context: Ctx) -> Any:
        self._dispatcher.abandon("orchestrator", request.completionToken)
        return self._msg("AbandonOrchestrationTaskResponse")

    async def abandon_activity(self, request: Any, context: Ctx) -> Any:
        self._dispatcher.abandon("activity", request.completionToken)
        return self._msg("AbandonActivityTaskResponse")

    async def abandon_entity(self, request: Any, context: Ctx) -> Any:
        self._dispatcher.abandon("entity", request.completionToken)
        return self._msg("AbandonEntityTaskResponse")

    # -- entities ----------------------------------------------------------------------

    async def signal_entity(self, request: Any, context: Ctx) -> Any:
        await self._entities.signal(request.instanceId, request.name,
                                    convert.optional_text(request, "input"),
                                    request_id=request.requestId,
                                    scheduled_ms=convert.optional_ms(request, "scheduledTime"))
        return self._msg("SignalEntityResponse")

    async def get_entity(self, request: Any, context: Ctx) -> Any:
        snapshot = await self._entities.get(request.instanceId)
        if snapshot is None:
            return self._msg("GetEntityResponse", exists=False)
        return self._msg("GetEntityResponse", exists=True,
                         entity=self._entity_metadata(snapshot, request.includeState))

    async def query_entities(self, request: Any, context: Ctx) -> Any:
        q = request.query
        flt = EntityFilter(id_prefix=convert.optional_text(q, "instanceIdStartsWith") or "",
                           modified_from_ms=convert.optional_ms(q, "lastModifiedFrom"),
                           modified_to_ms=convert.optional_ms(q, "lastModifiedTo"),
                           include_transient=q.includeTransient)
        size = q.pageSize.value if q.HasField("pageSize") else 0
        found, token = await self._entities.query(
            flt, size, convert.optional_text(q, "continuationToken") or None)
        response = self._msg("QueryEntitiesResponse", entities=[
            self._entity_metadata(s, q.includeState) for s in found])
        if token is not None:
            response.continuationToken.value = token
        return response

    async def clean_entities(self, request: Any, context: Ctx) -> Any:
        removed, released = await self._entities.clean(
            remove_empty=request.removeEmptyEntities,
            release_orphaned_locks=request.releaseOrphanedLocks)
        return self._msg("CleanEntityStorageResponse", emptyEntitiesRemoved=removed,
                         orphanedLocksReleased=released)

    def _entity_metadata(self, snapshot: EntitySnapshot, include_state: bool) -> Any:
        md = self._msg("EntityMetadata", instanceId=snapshot.entity_id,
                       backlogQueueSize=snapshot.backlog)
        md.lastModifiedTime.FromMilliseconds(snapshot.last_modified_ms)
        if snapshot.locked_by is not None:
            md.lockedBy.value = snapshot.locked_by
        if include_state and snapshot.state is not None:
            md.serializedState.value = snapshot.state
        return md

    async def complete_entity(self, request: Any, context: Ctx) -> Any:
        internal = self.dialect.to_internal(request, ipb.EntityBatchResult)
        item = await self._dispatcher.complete("entity", request.completionToken, "", -1,
                                               internal.SerializeToString())
        self._observer.work_completed(observed(item))
        return self._msg("CompleteTaskResponse")

    async def stream_history(self, request: Any, context: Ctx) -> AsyncIterator[Any]:
        events = convert.history(await self._service.history(request.instanceId), self.dialect)
        for start in range(0, max(len(events), 1), HISTORY_CHUNK):
            yield self._msg("HistoryChunk", events=events[start:start + HISTORY_CHUNK])
