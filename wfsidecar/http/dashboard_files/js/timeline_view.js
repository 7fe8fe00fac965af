// Draws buildTimeline's rows as a Gantt chart: a time axis relative to the start, one
// row per step, bars placed in percent of the axis (so the chart reflows on a narrow
// screen), a "now" line while the instance runs. Each bar is a button: it names what
// it is and how it ended, and clicking it shows its event in the history table below.

import { duration, h, instanceHref } from "./dom.js";
import { buildTimeline } from "./timeline.js";

// Beyond this many steps the chart stops being readable and slows the page; the history
// table below still lists every event.
const MAX_ROWS = 300;
const KIND_NAMES = { activity: "activity", child: "child workflow", timer: "timer", wait: "event wait" };

// Where times fall on the chart: `start` is 0 %, `end` 100 %.
function makeAxis(model, { running, now }) {
  const closedEnds = model.rows.flatMap((r) => r.segments.map((s) => s.end).filter((e) => e !== null));
  const last = model.end ?? (running ? now : Math.max(model.start, ...closedEnds));
  const end = Math.max(last, ...closedEnds, model.start + 1);
  const span = end - model.start;
  const percent = (t) => ((t - model.start) / span) * 100;
  return {
    start: model.start,
    end,
    span,
    percent,
    place: (from, to) => ({
      left: `${percent(from).toFixed(3)}%`,
      width: `max(3px, ${(percent(to) - percent(from)).toFixed(3)}%)`,
    }),
    // Where an open step is drawn to: a timer to its due time if that is on the chart,
    // anything else to the end of the instance, or to now.
    endOf: (segment) => {
      if (segment.end !== null) return segment.end;
      if (segment.fireAt && segment.fireAt <= end) return segment.fireAt;
      return model.end ?? end;
    },
  };
}

export function timelineView(events, { running, workflowName, now = Date.now() }) {
  const model = buildTimeline(events);
  if (Number.isNaN(model.start)) return h("p", { class: "muted" }, "No history yet.");
  const axis = makeAxis(model, { running, now });
  const rows = model.rows.slice(0, MAX_ROWS).map((row) => stepRow(row, model, axis));
  const marks = model.marks.map((mark) =>
    h("div", {
      class: `tl-mark mark-${mark.kind}`,
      style: { left: `${axis.percent(mark.at)}%` },
      title: mark.label,
      role: "img",
      "aria-label": mark.label,
    }),
  );
  const nowLine =
    running && model.end === null
      ? h("div", { class: "tl-now", style: { left: `${axis.percent(now)}%` }, role: "img", "aria-label": "now" })
      : null;
  const cut = model.rows.length > MAX_ROWS;
  return h(
    "div",
    { class: "timeline", role: "group", "aria-label": "Timeline" },
    axisRow(axis),
    h(
      "div",
      { class: "tl-body" },
      workflowRow(model, axis, workflowName || "workflow"),
      rows,
      h("div", { class: "tl-overlay", "aria-hidden": String(!nowLine && !marks.length) }, marks, nowLine),
    ),
    cut
      ? h(
          "p",
          { class: "muted small" },
          `The first ${MAX_ROWS} of ${model.rows.length} steps; every event is in the history below.`,
        )
      : null,
    legend(),
  );
}

function workflowRow(model, axis, name) {
  const end = model.end ?? axis.end;
  const state = model.end === null ? "running" : model.outcome;
  return h(
    "div",
    { class: "tl-row tl-workflow" },
    h(
      "div",
      { class: "tl-label" },
      h("strong", {}, name),
      h("span", { class: "tl-kind" }, ` ${duration(end - model.start)}`),
    ),
    h(
      "div",
      { class: "tl-track" },
      h("div", {
        class: barClass("workflow", model.outcome, model.end === null),
        style: axis.place(model.start, end),
        role: "img",
        "aria-label": `${name}: ${state} for ${duration(end - model.start)}`,
      }),
    ),
  );
}

function stepRow(row, model, axis) {
  const attempts = row.segments.filter((s) => s.kind !== "backoff");
  const name = row.kind === "timer" ? row.label || duration(row.delayMs) : row.label;
  const label =
    row.kind === "child"
      ? [h("span", { class: "tl-kind" }, "child "), h("a", { href: instanceHref(row.instanceId) }, row.label)]
      : [h("span", { class: "tl-kind" }, `${KIND_NAMES[row.kind]} `), name];
  const retried = attempts.length > 1 ? h("span", { class: "tl-retries" }, ` ×${attempts.length} attempts`) : null;
  const bars = row.segments.map((segment) => stepBar(segment, row, attempts.length, model, axis));
  return h(
    "div",
    { class: `tl-row kind-${row.kind}`, dataset: { kind: row.kind } },
    h("div", { class: "tl-label", title: name }, label, retried),
    h("div", { class: "tl-track" }, bars, rowDuration(row, attempts, axis)),
  );
}

function stepBar(segment, row, attemptCount, model, axis) {
  const to = axis.endOf(segment);
  const kind = segment.kind === "backoff" ? "backoff" : row.kind;
  // A step still open when the instance ended was left behind (terminated, say).
  const outcome = segment.end === null && model.end !== null ? "abandoned" : segment.outcome;
  const attempt = attemptCount > 1 ? ` attempt ${segment.attempt}` : "";
  const what = kind === "backoff" ? "retry back-off" : `${KIND_NAMES[row.kind]} ${row.label}${attempt}`;
  const text =
    `${what}: ${outcome}${segment.end === null ? " so far" : ""}, ${duration(to - segment.start)}, ` +
    `from +${duration(segment.start - model.start)}`;
  const failure = segment.failure ? `\n${segment.failure.errorType}: ${segment.failure.errorMessage}` : "";
  return h("button", {
    type: "button",
    class: barClass(kind, outcome, segment.end === null),
    style: axis.place(segment.start, to),
    title: text + failure,
    "aria-label": text,
    dataset: { eventId: String(segment.eventId), kind, outcome },
    onclick: () => showEvent(segment.eventId),
  });
}

function barClass(kind, outcome, open) {
  return `tl-bar kind-${kind} outcome-${outcome.replaceAll(" ", "-")}${open ? " open" : ""}`;
}

// The time from the row's first start to its last end, written beside the last bar, or
// before the first one when the row ends near the right edge, or on a bar that spans it all.
function rowDuration(row, attempts, axis) {
  const first = row.segments[0];
  const end = axis.endOf(attempts[attempts.length - 1] || first);
  const left = axis.percent(first.start);
  const right = axis.percent(end);
  let place = { left: `calc(${left}% + 6px)` };
  let cls = "tl-dur inside";
  if (right < 82) [place, cls] = [{ left: `calc(${right}% + 6px)` }, "tl-dur"];
  else if (left > 18) [place, cls] = [{ right: `calc(${100 - left}% + 6px)` }, "tl-dur"];
  return h("span", { class: cls, style: place, "aria-hidden": "true" }, duration(end - first.start));
}

function axisRow(axis) {
  const step = niceStep(axis.span / 6);
  const ticks = [];
  for (let t = 0; t <= axis.span + 1e-9; t += step) {
    // A label near the right edge hangs to the left of its tick, inside the chart.
    const at = (t / axis.span) * 100;
    const text = t === 0 ? new Date(axis.start).toLocaleTimeString() : `+${duration(t)}`;
    ticks.push(h("span", { class: at > 88 ? "tl-tick end" : "tl-tick", style: { left: `${at.toFixed(3)}%` } }, text));
  }
  return h(
    "div",
    { class: "tl-row tl-axis", "aria-hidden": "true" },
    h("div", { class: "tl-label" }),
    h("div", { class: "tl-track" }, ticks),
  );
}

function niceStep(rough) {
  const power = 10 ** Math.floor(Math.log10(Math.max(rough, 1)));
  for (const factor of [1, 2, 5, 10]) {
    if (rough <= factor * power) return factor * power;
  }
  return 10 * power;
}

function legend() {
  const item = (cls, text) => h("li", {}, h("span", { class: `swatch ${cls}` }), text);
  return h(
    "ul",
    { class: "tl-legend", "aria-label": "Legend" },
    item("kind-activity outcome-completed", "activity"),
    item("kind-child outcome-completed", "child workflow"),
    item("kind-timer outcome-fired", "timer"),
    item("kind-wait outcome-received", "event wait"),
    item("kind-backoff", "retry back-off"),
    item("outcome-failed", "failed"),
    item("open", "in progress"),
  );
}

function showEvent(eventId) {
  const row = document.getElementById(`ev-${eventId}`);
  if (!row) return;
  document.querySelectorAll(".history tr.highlight").forEach((r) => r.classList.remove("highlight"));
  row.classList.add("highlight");
  const details = row.closest("details");
  if (details) details.open = true;
  row.scrollIntoView({ block: "center", behavior: "smooth" });
}
