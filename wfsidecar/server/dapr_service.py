"""The Dapr dialect's own RPCs on top of the shared TaskHubSidecarService."""

from __future__ import annotations

from typing import Any

from wfsidecar.server import convert
from wfsidecar.server.dialect import DAPR
from wfsidecar.server.sidecar_service import Ctx, Rpc, SidecarService
from wfsidecar.store.instances import InstanceQuery, page_size
from wfsidecar.telemetry.observer import NULL, Observer
from wfsidecar.workflow.dispatch import WorkItemDispatcher
from wfsidecar.workflow.requests import RunningPurge
from wfsidecar.workflow.service import WorkflowService


class DaprSidecarService(SidecarService):
    def __init__(self, service: WorkflowService, dispatcher: WorkItemDispatcher, *,
                 ping_interval: float = 30.0, max_message_size: int = 64 * 1024 * 1024,
                 observer: Observer = NULL) -> None:
        super().__init__(service, dispatcher, DAPR, ping_interval=ping_interval,
                         max_message_size=max_message_size, observer=observer)

    def rpcs(self) -> dict[str, tuple[Rpc, str]]:
        return {
            **super().rpcs(),
            # Dapr 1.18 renamed it; no SDK calls the new name yet (protocol.md §3.1).
            "CompleteWorkflowTask": (self.complete_orchestrator, "OrchestratorResponse"),
            "ListInstanceIDs": (self.list_instance_ids, "ListInstanceIDsRequest"),
            "GetInstanceHistory": (self.get_history, "GetInstanceHistoryRequest"),
            "RerunWorkflowFromEvent": (self.rerun, "RerunWorkflowFromEventRequest"),
        }

    def start_policy(self, request: Any) -> dict[str, Any]:
        # 1.18: a terminal instance is replaced; 1.19 can insist on a unique id instead.
        return {"enforce_unique": bool(request.enforceUniqueInstanceId)}

    def purge_running(self, request: Any) -> RunningPurge:
        return RunningPurge.FORCE if request.force else RunningPurge.REFUSE

    async def list_instance_ids(self, request: Any, context: Ctx) -> Any:
        page = await self._service.list_instances(InstanceQuery(
            sort="id", descending=False, limit=page_size(request.pageSize),
            cursor=request.continuationToken or None))
        response = self._msg("ListInstanceIDsResponse",
                             instanceIds=[row.instance_id for row in page.rows])
        if page.next_cursor is not None:
            response.continuationToken = page.next_cursor
        return response

    async def get_history(self, request: Any, context: Ctx) -> Any:
        events = await self._service.history(request.instanceId)
        return self._msg("GetInstanceHistoryResponse",
                         events=convert.history(events, self.dialect))

    async def rerun(self, request: Any, context: Ctx) -> Any:
        new_id = await self._service.rerun_from_event(
            request.sourceInstanceID, request.eventID,
            new_instance_id=request.newInstanceID, overwrite_input=request.overwriteInput,
            new_input=convert.optional_text(request, "input"))
        return self._msg("RerunWorkflowFromEventResponse", newInstanceID=new_id)
