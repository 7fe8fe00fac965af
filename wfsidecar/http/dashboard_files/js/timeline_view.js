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

export function timelineView(events, { running, workflowName, now = Date.now() }) {
  const model = buildTimeline(events);
  if (Number.isNaN(model.start)) return h("p", { class: "muted" }, "No history yet.");
  const closedEnds = model.rows.flatMap((r) => r.segments.map((s) => s.end).filter((e) => e !== null));
  const last = model.end ?? (running ? now : Math.max(model.start, ...closedEnds));
  const axisEnd = Math.max(last, ...closedEnds, model.start + 1);
  const span = axisEnd - model.start;
  const pct = (t) => `${(((t - model.start) / span) * 100).toFixed(3)}%`;
  const place = (from, to) => ({ left: pct(from), width: `max(3px, ${(((to - from) / span) * 100).toFixed(3)}%)` });
  const openEnd = (segment) => {
    if (segment.end !== null) return segment.end;
    if (segment.fireAt && segment.fireAt <= axisEnd) return segment.fireAt;
    return model.end ?? axisEnd;
  };

  const workflowRow = h("div", { class: "tl-row tl-workflow" },
    h("div", { class: "tl-label" }, h("strong", {}, workflowName || "workflow"),
      h("span", { class: "tl-kind" }, ` ${duration((model.end ?? axisEnd) - model.start)}`)),
    h("div", { class: "tl-track" }, h("div", {
      class: `tl-bar kind-workflow outcome-${model.outcome.replaceAll(" ", "-")}${model.end === null ? " open" : ""}`,
      style: place(model.start, model.end ?? axisEnd), role: "img",
      "aria-label": `${workflowName}: ${model.end === null ? "running" : model.outcome} for ${duration((model.end ?? axisEnd) - model.start)}`,
    })));

  const shown = model.rows.slice(0, MAX_ROWS);
  const rows = shown.map((row) => {
    const attempts = row.segments.filter((s) => s.kind !== "backoff");
    const name = row.kind === "timer" ? row.label || duration(row.delayMs) : row.label;
    const label = row.kind === "child"
      ? [h("span", { class: "tl-kind" }, "child "), h("a", { href: instanceHref(row.instanceId) }, row.label)]
      : [h("span", { class: "tl-kind" }, `${KIND_NAMES[row.kind]} `), name];
    const retried = attempts.length > 1 ? h("span", { class: "tl-retries" }, ` ×${attempts.length} attempts`) : null;
    const bars = row.segments.map((segment) => {
      const to = openEnd(segment);
      const kind = segment.kind === "backoff" ? "backoff" : row.kind;
      const outcome = segment.end === null && model.end !== null ? "abandoned" : segment.outcome;
      const what = segment.kind === "backoff" ? "retry back-off"
        : `${KIND_NAMES[row.kind]} ${row.label}${attempts.length > 1 ? ` attempt ${segment.attempt}` : ""}`;
      const text = `${what}: ${outcome}${segment.end === null ? " so far" : ""}, ${duration(to - segment.start)}, from +${duration(segment.start - model.start)}`;
      const bar = h("button", {
        type: "button", class: `tl-bar kind-${kind} outcome-${outcome.replaceAll(" ", "-")}${segment.end === null ? " open" : ""}`,
        style: place(segment.start, to), title: segment.failure ? `${text}\n${segment.failure.errorType}: ${segment.failure.errorMessage}` : text,
        "aria-label": text, dataset: { eventId: String(segment.eventId), kind, outcome },
        onclick: () => showEvent(segment.eventId),
      });
      return bar;
    });
    return h("div", { class: `tl-row kind-${row.kind}`, dataset: { kind: row.kind } },
      h("div", { class: "tl-label", title: name }, label, retried),
      h("div", { class: "tl-track" }, bars, rowDuration(row, attempts, openEnd, pct)));
  });

  const marks = model.marks.map((mark) => h("div", { class: `tl-mark mark-${mark.kind}`, style: { left: pct(mark.at) },
    title: mark.label, role: "img", "aria-label": mark.label }));
  const nowLine = running && model.end === null
    ? h("div", { class: "tl-now", style: { left: pct(now) }, title: "now", "aria-label": "now", role: "img" }) : null;

  return h("div", { class: "timeline", role: "group", "aria-label": "Timeline" },
    axis(model.start, span),
    h("div", { class: "tl-body" }, workflowRow, rows,
      h("div", { class: "tl-overlay", "aria-hidden": String(!nowLine && !marks.length) }, marks, nowLine)),
    model.rows.length > MAX_ROWS
      ? h("p", { class: "muted small" }, `The first ${MAX_ROWS} of ${model.rows.length} steps; every event is in the history below.`)
      : null,
    legend());
}

// The time from the row's first start to its last end, written beside the last bar (or
// before the first one when the row ends near the right edge).
function rowDuration(row, attempts, openEnd, pct) {
  const first = row.segments[0];
  const last = attempts[attempts.length - 1] || first;
  const end = openEnd(last);
  const text = duration(end - first.start);
  const right = parseFloat(pct(end));
  const left = parseFloat(pct(first.start));
  if (right < 82) return h("span", { class: "tl-dur", style: { left: `calc(${right}% + 6px)` }, "aria-hidden": "true" }, text);
  if (left > 18) return h("span", { class: "tl-dur", style: { right: `calc(${100 - left}% + 6px)` }, "aria-hidden": "true" }, text);
  // A bar across the whole axis: the text goes on the bar itself.
  return h("span", { class: "tl-dur inside", style: { left: `calc(${left}% + 6px)` }, "aria-hidden": "true" }, text);
}

function axis(start, span) {
  const step = niceStep(span / 6);
  const ticks = [];
  for (let t = 0; t <= span + 1e-9; t += step) {
    // A label near the right edge hangs to the left of its tick, inside the chart.
    const at = (t / span) * 100;
    ticks.push(h("span", { class: at > 88 ? "tl-tick end" : "tl-tick", style: { left: `${at.toFixed(3)}%` } },
      t === 0 ? new Date(start).toLocaleTimeString() : `+${duration(t)}`));
  }
  return h("div", { class: "tl-row tl-axis", "aria-hidden": "true" },
    h("div", { class: "tl-label" }), h("div", { class: "tl-track" }, ticks));
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
  return h("ul", { class: "tl-legend", "aria-label": "Legend" },
    item("kind-activity outcome-completed", "activity"), item("kind-child outcome-completed", "child workflow"),
    item("kind-timer outcome-fired", "timer"), item("kind-wait outcome-received", "event wait"),
    item("kind-backoff", "retry back-off"), item("outcome-failed", "failed"), item("open", "in progress"));
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
