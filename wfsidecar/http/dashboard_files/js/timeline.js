// From a history (GET .../history) to the rows of the timeline: one row per activity
// (its retries on the same row), timer, child workflow and event wait, each a list of
// segments with a start, an end (null while it is still open) and an outcome.
// Only the history is read, so what the chart shows is what the daemon recorded.

const FAR_FUTURE_YEAR = 9000; // the SDKs wait for an event without a timeout by a timer in 9999

const ms = (iso) => (iso ? Date.parse(iso) : NaN);

export function buildTimeline(events) {
  const rows = [];
  const byTask = new Map(); // task id -> [row, segment] of a scheduled activity or child
  const byTimer = new Map(); // timer id -> [row, segment]
  const activityRows = new Map(); // taskExecutionId (or name) -> row, so retries share one
  const openWaits = []; // event waits not yet matched to an EventRaised
  const marks = []; // points: events received with no wait, suspend/resume
  let start = NaN;
  let end = null;
  let outcome = "running";

  for (const event of events) {
    const at = ms(event.timestamp);
    switch (event.type) {
      case "ExecutionStarted":
        if (Number.isNaN(start) || at < start) start = at;
        break;
      case "OrchestratorStarted":
        if (Number.isNaN(start)) start = at;
        break;
      case "TaskScheduled": {
        const key = event.taskExecutionId || `name:${event.name}`;
        let row = activityRows.get(key);
        if (!row) {
          row = { kind: "activity", label: event.name, segments: [] };
          activityRows.set(key, row);
          rows.push(row);
        }
        const segment = {
          eventId: event.eventId,
          start: at,
          end: null,
          outcome: "open",
          attempt: row.segments.filter((s) => s.kind !== "backoff").length + 1,
        };
        row.segments.push(segment);
        byTask.set(event.eventId, [row, segment]);
        break;
      }
      case "SubOrchestrationInstanceCreated": {
        const row = { kind: "child", label: event.name, instanceId: event.instanceId, segments: [] };
        const segment = { eventId: event.eventId, start: at, end: null, outcome: "open", attempt: 1 };
        row.segments.push(segment);
        rows.push(row);
        byTask.set(event.eventId, [row, segment]);
        break;
      }
      case "TaskCompleted":
      case "TaskFailed":
      case "SubOrchestrationInstanceCompleted":
      case "SubOrchestrationInstanceFailed": {
        const found = byTask.get(event.taskScheduledId);
        if (!found) break;
        const [, segment] = found;
        segment.end = at;
        segment.outcome = event.type.endsWith("Completed") ? "completed" : "failed";
        if (event.failureDetails) segment.failure = event.failureDetails;
        break;
      }
      case "TimerCreated":
        timerCreated(event, at, { rows, byTimer, activityRows, openWaits });
        break;
      case "TimerFired": {
        const found = byTimer.get(event.timerId);
        if (!found) break;
        const [, segment] = found;
        segment.end = Math.min(ms(event.fireAt), segment.end ?? Infinity);
        segment.outcome = segment.kind === "wait" ? "timed out" : "fired";
        break;
      }
      case "EventRaised": {
        const index = openWaits.findIndex(([, s]) => s.eventName === event.name);
        if (index >= 0) {
          const [, segment] = openWaits.splice(index, 1)[0];
          segment.end = at;
          segment.outcome = "received";
        } else {
          marks.push({ kind: "event", at, label: `event "${event.name}" received`, eventId: event.eventId });
        }
        break;
      }
      case "ExecutionSuspended":
      case "ExecutionResumed":
        marks.push({
          kind: "suspend",
          at,
          label: event.type === "ExecutionSuspended" ? "suspended" : "resumed",
        });
        break;
      case "ExecutionCompleted":
      case "ExecutionTerminated":
      case "ContinueAsNew":
        end = at;
        outcome =
          event.type === "ExecutionTerminated"
            ? "terminated"
            : (event.orchestrationStatus || "").replace("ORCHESTRATION_STATUS_", "").toLowerCase() || "completed";
        break;
      default:
        break;
    }
  }
  return { start, end, outcome, rows, marks };
}

function timerCreated(event, at, { rows, byTimer, activityRows, openWaits }) {
  const fireAt = ms(event.fireAt);
  const farFuture = new Date(fireAt).getUTCFullYear() >= FAR_FUTURE_YEAR || Number.isNaN(fireAt);
  if (event.activityRetry) {
    // The SDK's retry policy waits with a timer before the next attempt: a back-off
    // segment on the activity's own row, so the attempts read left to right.
    const row = activityRows.get(event.activityRetry.taskExecutionId);
    if (row) {
      const segment = {
        kind: "backoff",
        eventId: event.eventId,
        start: at,
        end: null,
        fireAt,
        outcome: "waiting",
      };
      row.segments.push(segment);
      byTimer.set(event.eventId, [row, segment]);
      return;
    }
  }
  if (event.externalEvent || farFuture) {
    const name = event.externalEvent ? event.externalEvent.name : event.name || "";
    const row = { kind: "wait", label: name ? `"${name}"` : "any event", segments: [] };
    const segment = {
      kind: "wait",
      eventId: event.eventId,
      start: at,
      end: null,
      fireAt: farFuture ? null : fireAt,
      outcome: "waiting",
      eventName: name,
    };
    row.segments.push(segment);
    rows.push(row);
    byTimer.set(event.eventId, [row, segment]);
    openWaits.push([row, segment]);
    return;
  }
  const row = { kind: "timer", label: event.name || "", delayMs: fireAt - at, segments: [] };
  const segment = { kind: "timer", eventId: event.eventId, start: at, end: null, fireAt, outcome: "waiting" };
  row.segments.push(segment);
  rows.push(row);
  byTimer.set(event.eventId, [row, segment]);
}
