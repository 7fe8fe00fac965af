// The instances page: counts by status (click one to filter), the filters, the table and
// the cursor pager. Filters live in the URL's hash, so a filtered view can be bookmarked
// or shared (the token never is).

import { api } from "./api.js";
import { bulkDialog, startDialog } from "./actions.js";
import { FINISHED, STATUSES, age, clear, errorBox, h, instanceLink, statusBadge, timeAgo } from "./dom.js";
import { filterForm, TIME_FIELDS } from "./filters.js";

const REFRESH_MS = 5000;
const REFRESH_KEY = "wfsidecar.autorefresh";
// Cursors of the pages before the current one, for "Previous" (the API only goes forward).
let previousCursors = [];
let previousFilter = "";

export async function renderInstances(main, ctx) {
  const params = ctx.params;
  const filterKey = withoutCursor(params);
  if (filterKey !== previousFilter || !params.get("cursor")) previousCursors = [];
  previousFilter = filterKey;

  const counts = h("div", { class: "counts", role: "group", "aria-label": "Instances by status" });
  const table = h("div", { class: "table-wrap" });
  const updated = h("span", { class: "muted small", "aria-live": "off" });
  const auto = h("input", {
    type: "checkbox",
    id: "auto-refresh",
    checked: localStorage.getItem(REFRESH_KEY) !== "off",
  });
  auto.addEventListener("change", () => localStorage.setItem(REFRESH_KEY, auto.checked ? "on" : "off"));

  const heading = h(
    "div",
    { class: "page-head" },
    h("h1", {}, "Workflow instances"),
    h(
      "div",
      { class: "head-tools" },
      h("label", { class: "check" }, auto, " Auto-refresh"),
      updated,
      ctx.role === "admin"
        ? [
            h(
              "button",
              { type: "button", class: "ghost", onclick: () => bulkDialog("terminate", bulkFilters(params)) },
              "Terminate matching…",
            ),
            h(
              "button",
              { type: "button", class: "ghost", onclick: () => bulkDialog("purge", bulkFilters(params)) },
              "Purge matching…",
            ),
            h("button", { type: "button", class: "primary", onclick: () => startDialog() }, "Start workflow"),
          ]
        : null,
    ),
  );
  // On a narrow screen the form starts folded unless a filter is set, so the rows come first.
  const active = ["status", "name", "idPrefix", "timeFrom", "timeTo"].filter((k) => params.get(k)).length;
  const filters = h(
    "details",
    { class: "filter-box", open: active > 0 || !window.matchMedia("(max-width: 720px)").matches },
    h("summary", {}, "Filters", active ? ` (${active} set)` : ""),
    filterForm(params, (next) => ctx.navigate(`#/?${next}`)),
  );
  clear(main, heading, counts, filters, table);

  async function load() {
    try {
      const [byStatus, page] = await Promise.all([statusCounts(params), api.list(listQuery(params))]);
      if (!ctx.alive()) return;
      clear(counts, countButtons(byStatus, params, ctx));
      clear(table, instancesTable(page, params, ctx));
      updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      if (ctx.alive()) clear(table, errorBox(error));
    }
  }
  await load();
  ctx.every(REFRESH_MS, () => {
    if (auto.checked && !document.querySelector("dialog[open]")) load();
  });
}

function withoutCursor(params) {
  const copy = new URLSearchParams(params);
  copy.delete("cursor");
  return copy.toString();
}

function listQuery(params) {
  const query = new URLSearchParams({ count: "true" });
  for (const key of ["status", "name", "idPrefix", "sort", "order", "cursor"]) {
    if (params.get(key)) query.set(key, params.get(key));
  }
  query.set("pageSize", params.get("pageSize") || "25");
  const field = TIME_FIELDS.includes(params.get("timeField")) ? params.get("timeField") : "created";
  for (const side of ["From", "To"]) {
    const local = params.get(`time${side}`);
    if (local && !Number.isNaN(Date.parse(local))) {
      query.set(`${field}${side}`, new Date(local).toISOString());
    }
  }
  return query;
}

// The list's filters as the bulk routes take them: no sort, page size, cursor or count.
function bulkFilters(params) {
  const query = listQuery(params);
  for (const key of ["sort", "order", "pageSize", "cursor", "count"]) query.delete(key);
  return query;
}

// The counts by status of what the other filters (name, id prefix, time range) select:
// the daemon's totals when there are none, else one count query per status.
async function statusCounts(params) {
  const narrowed = bulkFilters(params);
  narrowed.delete("status");
  if (![...narrowed.keys()].length) return (await api.metadata()).instances;
  const counts = await Promise.all(
    STATUSES.map((status) => {
      const query = new URLSearchParams(narrowed);
      query.set("status", status);
      query.set("pageSize", "1");
      query.set("count", "true");
      return api.list(query).then((page) => page.count);
    }),
  );
  const byStatus = Object.fromEntries(STATUSES.map((status, i) => [status, counts[i]]));
  return { total: counts.reduce((a, b) => a + b, 0), byStatus };
}

function countButtons(instances, params, ctx) {
  const active = params.get("status") || "";
  const go = (status) => {
    const next = new URLSearchParams(withoutCursor(params));
    if (status) next.set("status", status);
    else next.delete("status");
    ctx.navigate(`#/?${next}`);
  };
  const button = (status, label, count) =>
    h(
      "button",
      {
        type: "button",
        class: `count ${status ? `status-${status.toLowerCase()}` : "all"}`,
        "aria-pressed": String(active === status),
        dataset: { status: status || "ALL" },
        onclick: () => go(status),
      },
      h("span", { class: "count-n" }, String(count)),
      h("span", { class: "count-label" }, label),
    );
  return [
    button("", "All", instances.total),
    ...STATUSES.filter((s) => instances.byStatus[s] > 0 || s === active).map((s) =>
      button(s, s.replaceAll("_", " ").toLowerCase(), instances.byStatus[s] || 0),
    ),
  ];
}

const COLUMNS = [
  ["instanceID", "Instance", "id"],
  ["workflowName", "Workflow", "name"],
  ["runtimeStatus", "Status"],
  ["customStatus", "Custom status"],
  ["createdAt", "Created", "created"],
  ["lastUpdatedAt", "Updated", "updated"],
  ["historyLength", "Events"],
];

function instancesTable(page, params, ctx) {
  const now = Date.now();
  const sort = params.get("sort") || "created";
  const order = params.get("order") || "desc";
  const header = h(
    "tr",
    {},
    COLUMNS.map(([, label, key]) => {
      if (!key) return h("th", { scope: "col" }, label);
      const activeSort = key === sort;
      const nextOrder = activeSort && order === "desc" ? "asc" : "desc";
      const next = new URLSearchParams(withoutCursor(params));
      next.set("sort", key);
      next.set("order", nextOrder);
      return h(
        "th",
        { scope: "col", "aria-sort": activeSort ? (order === "asc" ? "ascending" : "descending") : "none" },
        h(
          "a",
          { href: `#/?${next}`, class: "sort" },
          label,
          activeSort ? h("span", { "aria-hidden": "true" }, order === "asc" ? " ▲" : " ▼") : null,
        ),
      );
    }),
  );
  const rows = page.instances.map((row) =>
    h(
      "tr",
      { dataset: { id: row.instanceID } },
      h(
        "td",
        {},
        instanceLink(row.instanceID),
        row.parentInstanceID
          ? h("div", { class: "muted small" }, "child of ", instanceLink(row.parentInstanceID))
          : null,
      ),
      h("td", {}, row.workflowName),
      h("td", {}, statusBadge(row.runtimeStatus), stuckNote(row, now)),
      h("td", { class: "custom", title: row.customStatus || "" }, row.customStatus || ""),
      h("td", {}, timeAgo(row.createdAt, now)),
      h("td", {}, timeAgo(row.lastUpdatedAt, now)),
      h("td", { class: "num" }, String(row.historyLength)),
    ),
  );
  const table = h(
    "table",
    { class: "instances", "aria-label": "Workflow instances" },
    h("thead", {}, header),
    h("tbody", {}, rows),
  );
  const empty = page.instances.length ? null : h("p", { class: "empty" }, "No instance matches these filters.");
  return [table, empty, pager(page, params, ctx)];
}

// Under the status of an unfinished instance that has not moved for a while (or is
// STALLED): the instance page's diagnosis says why.
const IDLE_NOTE_MS = 10 * 60 * 1000;

function stuckNote(row, now) {
  if (row.stalledReason) return h("div", { class: "small warn", title: row.stalledReason }, row.stalledReason);
  if (FINISHED.has(row.runtimeStatus)) return null;
  const idle = now - Date.parse(row.lastUpdatedAt);
  return idle > IDLE_NOTE_MS
    ? h(
        "div",
        { class: "small muted", title: "no progress since the last update; open it for the diagnosis" },
        `idle ${age(idle)}`,
      )
    : null;
}

function pager(page, params, ctx) {
  const size = Number(params.get("pageSize") || "25");
  const first = previousCursors.length * size + (page.instances.length ? 1 : 0);
  const last = previousCursors.length * size + page.instances.length;
  const goTo = (cursor) => {
    const next = new URLSearchParams(withoutCursor(params));
    if (cursor) next.set("cursor", cursor);
    ctx.navigate(`#/?${next}`);
  };
  const prev = h(
    "button",
    {
      type: "button",
      class: "ghost",
      disabled: previousCursors.length === 0,
      onclick: () => goTo(previousCursors.pop() || ""),
    },
    "← Previous",
  );
  const nextButton = h(
    "button",
    {
      type: "button",
      class: "ghost",
      disabled: !page.nextCursor,
      onclick: () => {
        previousCursors.push(params.get("cursor") || "");
        goTo(page.nextCursor);
      },
    },
    "Next →",
  );
  const total = page.count === null ? "" : ` of ${page.count}`;
  return h(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    prev,
    h("span", { class: "muted", id: "page-range" }, `${first}–${last}${total}`),
    nextButton,
  );
}
