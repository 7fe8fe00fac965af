// The instance page: summary, actions, failure, diagnostics ("why is it stuck"),
// input/output/custom status, children, the timeline and the raw history.

import { api } from "./api.js";
import { actionBar, rerunButton } from "./actions.js";
import { diagnosticsCard } from "./diagnostics.js";
import {
  FINISHED,
  bytes,
  clear,
  downloadJson,
  errorBox,
  field,
  h,
  instanceLink,
  jsonBlock,
  scrolling,
  statusBadge,
  tableHead,
  timeAgo,
} from "./dom.js";
import { historyTable } from "./history.js";
import { timelineView } from "./timeline_view.js";
import { traceLink } from "./trace.js";

const REFRESH_MS = 3000;

async function fetchAll(id) {
  const [meta, history, row, children] = await Promise.all([
    api.get(id),
    api.history(id),
    // The list API's row adds parent, dialect and sizes; the shortest id with this prefix
    // sorts first, so it is this instance's own row.
    api.list(new URLSearchParams({ idPrefix: id, sort: "id", order: "asc", pageSize: "1" })),
    api.list(new URLSearchParams({ parentID: id, sort: "created", order: "asc", pageSize: "200" })),
  ]);
  const own = row.instances.find((r) => r.instanceID === id) || null;
  const diagnostics = FINISHED.has(meta.runtimeStatus) ? null : await api.diagnostics(id).catch(() => null);
  return { meta, events: history.events, row: own, children: children.instances, diagnostics };
}

export async function renderInstance(main, ctx, id) {
  let data;
  try {
    data = await fetchAll(id);
  } catch (error) {
    if (!ctx.alive()) return;
    const title = error.status === 404 ? "Instance not found" : "Cannot show this instance";
    clear(
      main,
      h("nav", { class: "crumbs" }, h("a", { href: "#/" }, "Instances"), " / ", h("span", { class: "mono" }, id)),
      h("h1", {}, title),
      errorBox(error),
      h("p", {}, h("a", { href: "#/" }, "Back to the instances")),
    );
    return;
  }
  if (!ctx.alive()) return;
  draw(main, ctx, id, data);
  if (FINISHED.has(data.meta.runtimeStatus)) return;
  let drawn = signature(data);
  let finished = false; // once it has finished there is nothing more to watch
  ctx.every(REFRESH_MS, async () => {
    if (finished || document.querySelector("dialog[open]")) return;
    try {
      const next = await fetchAll(id);
      if (!ctx.alive()) return;
      finished = FINISHED.has(next.meta.runtimeStatus);
      // Redrawn whole only when the instance changed, so an unfolded payload or a
      // highlighted history row stays as the user left it; otherwise the timeline moves on.
      if (signature(next) !== drawn) {
        drawn = signature(next);
        draw(main, ctx, id, next);
      } else {
        clear(
          main.querySelector("#timeline-body"),
          timelineView(next.events, { running: true, workflowName: next.meta.workflowName }),
        );
        clear(main.querySelector("#diagnostics-body"), next.diagnostics ? diagnosticsCard(next.diagnostics) : null);
      }
    } catch (error) {
      if (ctx.alive() && error.status === 404) window.dispatchEvent(new Event("wfsidecar:changed"));
    }
  });
}

function signature({ meta, events, children }) {
  return JSON.stringify([meta.runtimeStatus, meta.lastUpdatedAt, events.length, children.map((c) => c.runtimeStatus)]);
}

function draw(main, ctx, id, { meta, events, row, children, diagnostics }) {
  const status = meta.runtimeStatus;
  const props = meta.properties || {};
  const running = !FINISHED.has(status);
  const admin = ctx.role === "admin";
  const scroll = window.scrollY;
  clear(
    main,
    h(
      "nav",
      { class: "crumbs", "aria-label": "Breadcrumbs" },
      h("a", { href: "#/" }, "Instances"),
      " / ",
      row && row.parentInstanceID ? [instanceLink(row.parentInstanceID), " / "] : null,
      h("span", { class: "mono" }, id),
    ),
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, h("span", { class: "mono" }, id), " ", statusBadge(status)),
      admin ? actionBar(id, status, meta.workflowName) : null,
    ),
    summary(meta, row, events, children),
    status === "FAILED" ? failure(props) : null,
    h("div", { id: "diagnostics-body" }, diagnostics ? diagnosticsCard(diagnostics) : null),
    h(
      "section",
      { class: "card", "aria-labelledby": "timeline-title" },
      h("h2", { id: "timeline-title" }, "Timeline"),
      h("div", { id: "timeline-body" }, timelineView(events, { running, workflowName: meta.workflowName })),
    ),
    h(
      "section",
      { class: "card payloads", "aria-label": "Input and output" },
      jsonBlock("Input", props["dapr.workflow.input"]),
      jsonBlock(status === "FAILED" ? "Output (none: failed)" : "Output", props["dapr.workflow.output"]),
      jsonBlock("Custom status", props["dapr.workflow.custom_status"]),
    ),
    children.length ? childrenCard(children) : null,
    h(
      "section",
      { class: "card", "aria-labelledby": "history-title" },
      h(
        "div",
        { class: "card-head" },
        h("h2", { id: "history-title" }, `History (${events.length} events)`),
        h(
          "button",
          {
            type: "button",
            class: "ghost small",
            onclick: () => downloadJson(`${id}-history.json`, { instanceID: id, events }),
          },
          "Download JSON",
        ),
      ),
      historyTable(events, admin && FINISHED.has(status) ? (event) => rerunButton(id, event) : null),
    ),
  );
  window.scrollTo(0, scroll);
}

function summary(meta, row, events, children) {
  const started = events.find((e) => e.type === "ExecutionStarted");
  return h(
    "section",
    { class: "card", "aria-label": "Summary" },
    h(
      "dl",
      { class: "summary" },
      field("Workflow", meta.workflowName, row && row.version ? ` (version ${row.version})` : ""),
      field("Status", statusBadge(meta.runtimeStatus), row && row.stalledReason ? ` ${row.stalledReason}` : ""),
      field("Created", timeAgo(meta.createdAt)),
      field("Updated", timeAgo(meta.lastUpdatedAt)),
      row && row.completedAt ? field("Completed", timeAgo(row.completedAt)) : null,
      field(
        "Parent",
        row && row.parentInstanceID ? instanceLink(row.parentInstanceID) : h("span", { class: "muted" }, "none"),
      ),
      field("Children", children.length ? String(children.length) : h("span", { class: "muted" }, "none")),
      row ? field("Dialect", row.dialect) : null,
      row ? field("Stored", `${row.historyLength} events, ${bytes(row.storedBytes)}`) : null,
      field("Trace", traceLink(meta.instanceID, started)),
    ),
  );
}

function failure(props) {
  const stack = props["dapr.workflow.failure.stack_trace"];
  return h(
    "section",
    { class: "card failure", "aria-labelledby": "failure-title" },
    h("h2", { id: "failure-title" }, "Failure"),
    h(
      "p",
      {},
      h("strong", { class: "mono" }, props["dapr.workflow.failure.error_type"] || "error"),
      ": ",
      props["dapr.workflow.failure.error_message"] || "",
    ),
    stack ? h("details", {}, h("summary", {}, "Stack trace"), h("pre", { class: "json" }, stack)) : null,
  );
}

function childrenCard(children) {
  return h(
    "section",
    { class: "card", "aria-labelledby": "children-title" },
    h("h2", { id: "children-title" }, `Child workflows (${children.length})`),
    scrolling(
      h(
        "table",
        { class: "compact" },
        tableHead("Instance", "Workflow", "Status", "Created"),
        h(
          "tbody",
          {},
          children.map((c) =>
            h(
              "tr",
              {},
              h("td", {}, instanceLink(c.instanceID)),
              h("td", {}, c.workflowName),
              h("td", {}, statusBadge(c.runtimeStatus)),
              h("td", {}, timeAgo(c.createdAt)),
            ),
          ),
        ),
      ),
    ),
  );
}
