// "Why is it stuck" (GET .../diagnostics) for an unfinished instance: the daemon's hints
// and what it waits on. It is drawn as a warning when the instance is STALLED, no
// connected worker can run it, or work it has pending has not moved for a minute; as a
// quiet note otherwise.

import { field, h, timeAgo } from "./dom.js";

const IDLE_WARNING_S = 60;

export function diagnosticsCard(d) {
  // Waiting on a timer or an event is what workflows do; idle with work that should be
  // moving (an activity, a turn, an inbox message) is not.
  const workPending = d.pendingActivities.length > 0 || d.workflowTurn !== null || d.inboxSize > 0;
  const stuck =
    d.runtimeStatus === "STALLED" ||
    (d.workers && !d.workers.canRun) ||
    (workPending && d.secondsSinceProgress > IDLE_WARNING_S);
  const list = (title, items, render) =>
    items && items.length
      ? [
          h("h3", {}, title),
          h(
            "ul",
            {},
            items.map((item) => h("li", {}, render(item))),
          ),
        ]
      : null;
  return h(
    "section",
    { class: `card diagnostics${stuck ? " warning" : ""}`, "aria-labelledby": "diag-title" },
    h("h2", { id: "diag-title" }, stuck ? "Why is it stuck?" : "What it is waiting for"),
    d.hints && d.hints.length
      ? h(
          "ul",
          { class: "hints" },
          d.hints.map((hint) => h("li", {}, hint)),
        )
      : null,
    h(
      "dl",
      { class: "summary" },
      field("Last progress", `${Math.round(d.secondsSinceProgress)} s ago`),
      d.stalledReason ? field("Stalled", d.stalledReason) : null,
      field(
        "Workers",
        d.workers
          ? `${d.workers.connectedStreams.length} connected, ` + `${d.workers.runnableByStreams.length} can run it`
          : "—",
      ),
      field("Inbox", String(d.inboxSize)),
      d.scheduledStartAt ? field("Scheduled start", timeAgo(d.scheduledStartAt)) : null,
    ),
    list("Pending activities", d.pendingActivities, (a) => [
      `${a.name} (task ${a.taskId}), scheduled `,
      timeAgo(a.scheduledAt),
      a.dispatch ? `, ${a.dispatch.state}, ${a.dispatch.attempts} dispatch(es)` : ", waiting",
    ]),
    list("Pending timers", d.pendingTimers, (t) =>
      t.fireAt.startsWith("9999")
        ? `timer ${t.timerId}: an event wait without a timeout`
        : [`timer ${t.timerId} fires at `, h("span", { class: "mono" }, t.fireAt)],
    ),
    list("Pending child workflows", d.pendingChildren, (c) => [
      h("a", { href: `#/instance/${encodeURIComponent(c.instanceID)}` }, c.instanceID),
      ` (${c.name})`,
    ]),
    d.lastFailure
      ? [
          h("h3", {}, "Last failure"),
          h("p", {}, h("span", { class: "mono" }, d.lastFailure.errorType), `: ${d.lastFailure.message}`),
        ]
      : null,
  );
}
