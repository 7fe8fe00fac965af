"""Where Microsoft-dialect names and numbers sit in ``wfsidecar.internal`` (generated).

Written by scripts/gen_protos.py; do not edit by hand: run `make proto`. The
transcoder (``wfsidecar.server.transcode``) matches fields and enum values by name and
uses these tables for the Microsoft ones that have another name or number internally.
"""

from __future__ import annotations

INTERNAL_PACKAGE = "wfsidecar.internal"
MS_PACKAGE = "wfsidecar.ms"

# internal message full name -> ((internal field name, Microsoft field name), ...): every
# Microsoft field whose internal name or number differs. Every other Microsoft field has
# the same name and number internally.
MS_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "wfsidecar.internal.ActivityRequest": (
        ("tags", "tags"),  # internal 1007, Microsoft 7
    ),
    "wfsidecar.internal.TaskScheduledEvent": (
        ("tags", "tags"),  # internal 1005, Microsoft 5
    ),
    "wfsidecar.internal.SubOrchestrationInstanceCreatedEvent": (
        ("tags", "tags"),  # internal 1006, Microsoft 6
    ),
    "wfsidecar.internal.HistoryEvent": (
        ("executionRewound", "executionRewound"),  # internal 1030, Microsoft 30
    ),
    "wfsidecar.internal.ScheduleTaskAction": (
        ("tags", "tags"),  # internal 1004, Microsoft 4
        ("parentTraceContext", "parentTraceContext"),  # internal 1005, Microsoft 5
    ),
    "wfsidecar.internal.CreateSubOrchestrationAction": (
        ("parentTraceContext", "parentTraceContext"),  # internal 1005, Microsoft 5
        ("tags", "tags"),  # internal 1006, Microsoft 6
    ),
    "wfsidecar.internal.OrchestratorAction": (
        ("rewindOrchestration", "rewindOrchestration"),  # internal 1009, Microsoft 9
    ),
    "wfsidecar.internal.OrchestratorRequest": (
        ("properties", "properties"),  # internal 1007, Microsoft 7
        ("orchestrationTraceContext", "orchestrationTraceContext"),  # internal 1008, Microsoft 8
    ),
    "wfsidecar.internal.OrchestratorResponse": (
        ("orchestrationTraceContext", "orchestrationTraceContext"),  # internal 1006, Microsoft 6
    ),
    "wfsidecar.internal.CreateInstanceRequest": (
        ("requestTime", "requestTime"),  # internal 1010, Microsoft 10
    ),
    "wfsidecar.internal.OrchestrationIdReusePolicy": (
        ("replaceableStatus", "replaceableStatus"),  # internal 1001, Microsoft 1
    ),
    "wfsidecar.internal.PurgeInstancesRequest": (
        ("instanceBatch", "instanceBatch"),  # internal 1004, Microsoft 4
        ("isOrchestration", "isOrchestration"),  # internal 1005, Microsoft 5
    ),
    "wfsidecar.internal.GetWorkItemsRequest": (
        ("ms_capabilities", "capabilities"),  # internal 1010, Microsoft 10
    ),
    "wfsidecar.internal.WorkItem": (
        ("ms_healthPing", "healthPing"),  # internal 1004, Microsoft 4
    ),
}

# internal enum full name -> ((internal value name, Microsoft value name), ...): every
# Microsoft enum value whose internal name or number differs.
MS_ENUM_VALUES: dict[str, tuple[tuple[str, str], ...]] = {
    "wfsidecar.internal.WorkerCapability": (
        ("WORKER_CAPABILITY_SCHEDULED_TASKS", "WORKER_CAPABILITY_SCHEDULED_TASKS"),  # internal 1002, Microsoft 2
        ("WORKER_CAPABILITY_LARGE_PAYLOADS", "WORKER_CAPABILITY_LARGE_PAYLOADS"),  # internal 1003, Microsoft 3
    ),
}

# Microsoft message full name -> its fields that the Dapr dialect does not have (they
# are dropped when a message goes out in the Dapr dialect).
MS_ONLY_FIELDS: dict[str, tuple[str, ...]] = {
    "wfsidecar.ms.ActivityRequest": (
        "tags",
    ),
    "wfsidecar.ms.TaskFailureDetails": (
        "properties",
    ),
    "wfsidecar.ms.TaskScheduledEvent": (
        "tags",
    ),
    "wfsidecar.ms.SubOrchestrationInstanceCreatedEvent": (
        "tags",
    ),
    "wfsidecar.ms.ExecutionRewoundEvent": (
        "reason",
        "parentExecutionId",
        "instanceId",
        "parentTraceContext",
        "name",
        "version",
        "input",
        "parentInstance",
        "tags",
    ),
    "wfsidecar.ms.HistoryEvent": (
        "executionRewound",
    ),
    "wfsidecar.ms.ScheduleTaskAction": (
        "tags",
        "parentTraceContext",
    ),
    "wfsidecar.ms.CreateSubOrchestrationAction": (
        "parentTraceContext",
        "tags",
    ),
    "wfsidecar.ms.CompleteOrchestrationAction": (
        "tags",
    ),
    "wfsidecar.ms.RewindOrchestrationAction": (
        "newHistory",
    ),
    "wfsidecar.ms.OrchestratorAction": (
        "rewindOrchestration",
    ),
    "wfsidecar.ms.OrchestrationTraceContext": (
        "spanID",
        "spanStartTime",
    ),
    "wfsidecar.ms.OrchestratorRequest": (
        "properties",
        "orchestrationTraceContext",
    ),
    "wfsidecar.ms.OrchestratorResponse": (
        "orchestrationTraceContext",
        "requiresHistory",
        "isPartial",
        "chunkIndex",
    ),
    "wfsidecar.ms.CreateInstanceRequest": (
        "requestTime",
    ),
    "wfsidecar.ms.OrchestrationIdReusePolicy": (
        "replaceableStatus",
    ),
    "wfsidecar.ms.ListInstanceIdsRequest": (
        "runtimeStatus",
        "completedTimeFrom",
        "completedTimeTo",
        "pageSize",
        "lastInstanceKey",
    ),
    "wfsidecar.ms.ListInstanceIdsResponse": (
        "instanceIds",
        "lastInstanceKey",
    ),
    "wfsidecar.ms.PurgeInstancesRequest": (
        "instanceBatch",
        "isOrchestration",
    ),
    "wfsidecar.ms.PurgeInstanceFilter": (
        "timeout",
    ),
    "wfsidecar.ms.RestartInstanceRequest": (
        "instanceId",
        "restartWithNewInstanceId",
    ),
    "wfsidecar.ms.RestartInstanceResponse": (
        "instanceId",
    ),
    "wfsidecar.ms.SignalEntityRequest": (
        "parentTraceContext",
        "requestTime",
    ),
    "wfsidecar.ms.EntityBatchRequest": (
        "properties",
    ),
    "wfsidecar.ms.EntityBatchResult": (
        "requiresState",
    ),
    "wfsidecar.ms.OperationRequest": (
        "traceContext",
    ),
    "wfsidecar.ms.OperationResultSuccess": (
        "startTimeUtc",
        "endTimeUtc",
    ),
    "wfsidecar.ms.OperationResultFailure": (
        "startTimeUtc",
        "endTimeUtc",
    ),
    "wfsidecar.ms.SendSignalAction": (
        "requestTime",
        "parentTraceContext",
    ),
    "wfsidecar.ms.StartNewOrchestrationAction": (
        "requestTime",
        "parentTraceContext",
    ),
    "wfsidecar.ms.SkipGracefulOrchestrationTerminationsRequest": (
        "instanceBatch",
        "reason",
    ),
    "wfsidecar.ms.SkipGracefulOrchestrationTerminationsResponse": (
        "unterminatedInstanceIds",
    ),
    "wfsidecar.ms.GetWorkItemsRequest": (
        "capabilities",
        "workItemFilters",
        "worker_instance_id",
    ),
    "wfsidecar.ms.WorkItemFilters": (
        "orchestrations",
        "activities",
        "entities",
    ),
    "wfsidecar.ms.OrchestrationFilter": (
        "name",
        "versions",
    ),
    "wfsidecar.ms.ActivityFilter": (
        "name",
        "versions",
    ),
    "wfsidecar.ms.EntityFilter": (
        "name",
    ),
    "wfsidecar.ms.WorkItem": (
        "healthPing",
    ),
    "wfsidecar.ms.InstanceBatch": (
        "instanceIds",
    ),
}

# Microsoft messages the Dapr dialect does not have at all.
MS_ONLY_MESSAGES: tuple[str, ...] = (
    "wfsidecar.ms.ExecutionRewoundEvent",
    "wfsidecar.ms.RewindOrchestrationAction",
    "wfsidecar.ms.OrchestrationTraceContext",
    "wfsidecar.ms.ListInstanceIdsRequest",
    "wfsidecar.ms.ListInstanceIdsResponse",
    "wfsidecar.ms.RestartInstanceRequest",
    "wfsidecar.ms.RestartInstanceResponse",
    "wfsidecar.ms.SkipGracefulOrchestrationTerminationsRequest",
    "wfsidecar.ms.SkipGracefulOrchestrationTerminationsResponse",
    "wfsidecar.ms.WorkItemFilters",
    "wfsidecar.ms.OrchestrationFilter",
    "wfsidecar.ms.ActivityFilter",
    "wfsidecar.ms.EntityFilter",
    "wfsidecar.ms.InstanceBatch",
)
