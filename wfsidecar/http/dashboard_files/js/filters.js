// The instances page's filter form: status, workflow name, id prefix, a time range on
// the created, updated or completed time, sort, order and page size. Submitting it
// builds the hash query that instances.js turns into the list API's parameters.

import { STATUSES, h } from "./dom.js";

export const TIME_FIELDS = ["created", "updated", "completed"];
const WITHIN = [
  ["", "any time"],
  ["15m", "last 15 minutes"],
  ["1h", "last hour"],
  ["24h", "last 24 hours"],
  ["7d", "last 7 days"],
];
const UNIT_MS = { m: 60000, h: 3600000, d: 86400000 };

function select(id, label, options, value) {
  return [
    h("label", { for: id }, label),
    h(
      "select",
      { id, name: id },
      options.map(([v, text]) => h("option", { value: v, selected: v === (value || "") }, text)),
    ),
  ];
}

function input(id, label, value, attrs = {}) {
  return [
    h("label", { for: id }, label),
    h("input", { id, name: id, value: value || "", autocomplete: "off", ...attrs }),
  ];
}

// A datetime-local value (the browser's local time, minutes) for `ms` since the epoch.
function localValue(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

export function filterForm(params, apply) {
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter instances" },
    h(
      "div",
      { class: "field" },
      select("f-status", "Status", [["", "any"], ...STATUSES.map((s) => [s, s])], params.get("status")),
    ),
    h("div", { class: "field" }, input("f-name", "Workflow name", params.get("name"))),
    h("div", { class: "field" }, input("f-id", "Instance id starts with", params.get("idPrefix"))),
    h(
      "div",
      { class: "field" },
      select(
        "f-time-field",
        "Time",
        TIME_FIELDS.map((f) => [f, f]),
        params.get("timeField") || "created",
      ),
    ),
    h("div", { class: "field" }, select("f-within", "Within", WITHIN, "")),
    h("div", { class: "field" }, input("f-from", "From", params.get("timeFrom"), { type: "datetime-local" })),
    h("div", { class: "field" }, input("f-to", "To", params.get("timeTo"), { type: "datetime-local" })),
    h(
      "div",
      { class: "field" },
      select(
        "f-sort",
        "Sort by",
        [
          ["created", "created"],
          ["updated", "updated"],
          ["completed", "completed"],
          ["id", "id"],
          ["name", "name"],
        ],
        params.get("sort") || "created",
      ),
    ),
    h(
      "div",
      { class: "field" },
      select(
        "f-order",
        "Order",
        [
          ["desc", "newest first"],
          ["asc", "oldest first"],
        ],
        params.get("order") || "desc",
      ),
    ),
    h(
      "div",
      { class: "field" },
      select(
        "f-size",
        "Per page",
        [
          ["10", "10"],
          ["25", "25"],
          ["50", "50"],
          ["100", "100"],
        ],
        params.get("pageSize") || "25",
      ),
    ),
    h(
      "div",
      { class: "field buttons" },
      h("button", { type: "submit", class: "primary" }, "Apply"),
      h("button", { type: "button", class: "ghost", onclick: () => apply("") }, "Clear"),
    ),
  );
  const value = (id) => form.querySelector(`#${id}`).value.trim();
  form.querySelector("#f-within").addEventListener("change", (event) => {
    const chosen = event.target.value;
    if (!chosen) return;
    const ms = Number(chosen.slice(0, -1)) * UNIT_MS[chosen.slice(-1)];
    form.querySelector("#f-from").value = localValue(Date.now() - ms);
    form.querySelector("#f-to").value = "";
  });
  form.querySelector("#f-status").addEventListener("change", () => form.requestSubmit());
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    const put = (key, v) => {
      if (v) next.set(key, v);
    };
    put("status", value("f-status"));
    put("name", value("f-name"));
    put("idPrefix", value("f-id"));
    if (value("f-from") || value("f-to")) put("timeField", value("f-time-field"));
    put("timeFrom", value("f-from"));
    put("timeTo", value("f-to"));
    if (value("f-sort") !== "created") put("sort", value("f-sort"));
    if (value("f-order") !== "desc") put("order", value("f-order"));
    if (value("f-size") !== "25") put("pageSize", value("f-size"));
    apply(next.toString());
  });
  return form;
}
