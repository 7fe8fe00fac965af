// The raw history below the timeline: every event with its id, type, name, time since
// the first event and its own fields. Rows carry ids (ev-<eventId>) the timeline's bars
// scroll to; TaskScheduled rows of a finished instance offer a rerun (admin only).

import { duration, h, scrolling, tableHead } from "./dom.js";

const SHOWN = new Set(["eventId", "type", "name", "timestamp", "router", "tags"]);

export function historyTable(events, rerunFor) {
  if (!events.length) return h("p", { class: "muted" }, "No events.");
  const first = Date.parse(events[0].timestamp);
  const body = events.map((event, index) => {
    const rest = Object.fromEntries(Object.entries(event).filter(([k]) => !SHOWN.has(k)));
    const text = Object.keys(rest).length ? JSON.stringify(rest) : "";
    const long = text.length > 160;
    const detail = long
      ? h(
          "details",
          {},
          h("summary", {}, text.slice(0, 120) + "…"),
          h("pre", { class: "json" }, JSON.stringify(rest, null, 2)),
        )
      : h("code", {}, text);
    const id = event.eventId >= 0 ? `ev-${event.eventId}` : `ev-i${index}`;
    return h(
      "tr",
      { id, class: `ev-${event.type}` },
      h("td", { class: "num" }, event.eventId >= 0 ? String(event.eventId) : ""),
      h("td", {}, event.type),
      h("td", {}, event.name || ""),
      h("td", { class: "num", title: event.timestamp }, `+${duration(Date.parse(event.timestamp) - first)}`),
      h("td", { class: "detail" }, detail),
      rerunFor ? h("td", {}, event.type === "TaskScheduled" ? rerunFor(event) : null) : null,
    );
  });
  return scrolling(
    h(
      "table",
      { class: "history compact", "aria-label": "History events" },
      tableHead("Id", "Type", "Name", "At", "Fields", rerunFor ? h("span", { class: "sr-only" }, "Actions") : null),
      h("tbody", {}, body),
    ),
  );
}
