"""What a Dapr management client sees of an instance: the ``properties`` map of Dapr's
GetWorkflow, shared by the runtime gRPC API and the HTTP API so the two cannot drift."""

from __future__ import annotations

from wfsidecar import engine
from wfsidecar.workflow.messages import InstanceSnapshot

INPUT = "dapr.workflow.input"
OUTPUT = "dapr.workflow.output"
CUSTOM_STATUS = "dapr.workflow.custom_status"
ERROR_TYPE = "dapr.workflow.failure.error_type"
ERROR_MESSAGE = "dapr.workflow.failure.error_message"
STACK_TRACE = "dapr.workflow.failure.stack_trace"


def properties(snapshot: InstanceSnapshot) -> dict[str, str]:
    """Dapr's ``properties`` map: input and custom status always (empty when unset); the
    failure's type, message and stack trace if it failed, else the output once finished."""
    view = snapshot.view
    props = {INPUT: view.input or "", CUSTOM_STATUS: snapshot.custom_status or ""}
    if view.failure is not None:
        props[ERROR_TYPE] = view.failure.errorType
        props[ERROR_MESSAGE] = view.failure.errorMessage
        if view.failure.HasField("stackTrace"):
            props[STACK_TRACE] = view.failure.stackTrace.value
    elif view.status in engine.TERMINAL:
        props[OUTPUT] = view.output or ""
    return props
