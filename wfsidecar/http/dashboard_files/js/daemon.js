// The daemon page: version, uptime, listeners, connected workers, instance counts, the
// storage report (largest instances, retention backlog, last sweep) and links to the
// OpenAPI document, metrics and traces.

import { api } from "./api.js";
import {
  STATUSES,
  age,
  bytes,
  clear,
  downloadJson,
  errorBox,
  field,
  h,
  instanceLink,
  scrolling,
  statusBadge,
  tableHead,
  timeAgo,
} from "./dom.js";
import { setTraceTemplate, traceTemplate } from "./trace.js";

export async function renderDaemon(main, ctx) {
  let meta;
  let storage;
  try {
    [meta, storage] = await Promise.all([api.metadata(), api.storage()]);
  } catch (error) {
    if (ctx.alive()) clear(main, h("h1", {}, "Daemon"), errorBox(error));
    return;
  }
  if (!ctx.alive()) return;
  clear(
    main,
    h("div", { class: "page-head" }, h("h1", {}, "Daemon")),
    h("div", { class: "grid" }, overview(meta), workers(meta)),
    storageCard(storage),
    settings(meta),
  );
}

function overview(meta) {
  return h(
    "section",
    { class: "card", "aria-labelledby": "overview-title" },
    h("h2", { id: "overview-title" }, "wfsidecar ", meta.version),
    h(
      "dl",
      { class: "summary" },
      field("Up for", age(meta.uptimeSeconds * 1000), h("div", { class: "muted small" }, "since ", meta.startedAt)),
      field("Store", `${meta.store.backend}, ${bytes(meta.store.sizeBytes)}`),
      field("Instances", String(meta.instances.total)),
      field(
        "Listeners",
        h(
          "ul",
          { class: "plain" },
          meta.listeners.map((l) =>
            h(
              "li",
              {},
              `${l.name}: ${l.protocol}${l.dialect ? ` (${l.dialect})` : ""} on `,
              h("span", { class: "mono" }, `${l.host}:${l.port}`),
            ),
          ),
        ),
      ),
    ),
  );
}

function workers(meta) {
  const row = (dialect, label) => {
    const w = meta.workers[dialect] || { streams: 0, filteredStreams: 0 };
    return h(
      "tr",
      {},
      h("th", { scope: "row" }, label),
      h("td", { class: "num" }, String(w.streams)),
      h("td", { class: "num" }, String(w.filteredStreams)),
    );
  };
  const byStatus = STATUSES.filter((s) => meta.instances.byStatus[s] > 0);
  return h(
    "section",
    { class: "card", "aria-labelledby": "workers-title" },
    h("h2", { id: "workers-title" }, "Connected workers"),
    scrolling(
      h(
        "table",
        { class: "compact" },
        tableHead("Dialect", "Streams", "With filters"),
        h("tbody", {}, row("dapr", "Dapr"), row("ms", "Microsoft durabletask")),
      ),
    ),
    h("h3", {}, "Instances by status"),
    byStatus.length
      ? h(
          "ul",
          { class: "plain inline" },
          byStatus.map((s) =>
            h("li", {}, h("a", { href: `#/?status=${s}` }, statusBadge(s), ` ${meta.instances.byStatus[s]}`)),
          ),
        )
      : h("p", { class: "muted" }, "none yet"),
  );
}

function storageCard(report) {
  const retention = report.retention || {};
  const policies = Object.entries(retention.policySeconds || {});
  const sweep = retention.lastSweep;
  return h(
    "section",
    { class: "card", "aria-labelledby": "storage-title" },
    h("h2", { id: "storage-title" }, "Storage"),
    h(
      "dl",
      { class: "summary" },
      field("Database file", bytes(report.store.fileBytes), ` (${bytes(report.store.freeBytes)} free pages)`),
      field("Instances stored", `${report.instances.count}, ${bytes(report.instances.storedBytes)}`),
      field(
        "Retention",
        policies.length ? policies.map(([s, secs]) => `${s} after ${age(secs * 1000)}`).join(", ") : "keeps everything",
      ),
      policies.length
        ? field(
            "Due for purge",
            Object.entries(retention.backlog || {})
              .map(([s, b]) => `${s}: ${b.count} (${bytes(b.storedBytes)})`)
              .join(", "),
          )
        : null,
      field(
        "Last sweep",
        sweep
          ? `${sweep.purged} purged, ${bytes(sweep.purgedBytes)}, ${sweep.reclaimedPages} pages given back`
          : "none yet",
      ),
    ),
    report.largest.length
      ? [
          h("h3", {}, "Largest instances"),
          scrolling(
            h(
              "table",
              { class: "compact" },
              tableHead("Instance", "Workflow", "Status", "Created", "Events", "Stored"),
              h(
                "tbody",
                {},
                report.largest.map((r) =>
                  h(
                    "tr",
                    {},
                    h("td", {}, instanceLink(r.instanceID)),
                    h("td", {}, r.name),
                    h("td", {}, statusBadge(r.runtimeStatus)),
                    h("td", {}, timeAgo(r.createdAt)),
                    h("td", { class: "num" }, String(r.historyLength)),
                    h("td", { class: "num" }, bytes(r.storedBytes)),
                  ),
                ),
              ),
            ),
          ),
        ]
      : null,
  );
}

function settings(meta) {
  const input = h("input", {
    id: "trace-template",
    value: traceTemplate(),
    autocomplete: "off",
    placeholder: meta.traceUrlTemplate || "http://localhost:9411/zipkin/traces/{traceId}",
  });
  const configured = meta.traceUrlTemplate
    ? `the daemon's tracing.ui_url_template, ${meta.traceUrlTemplate}, unless this browser sets its own`
    : "none configured on the daemon (tracing.ui_url_template); this browser may set its own";
  const saved = h("span", { class: "muted small", role: "status" });
  const metrics = meta.listeners.find((l) => l.name === "metrics");
  return h(
    "section",
    { class: "card", "aria-labelledby": "links-title" },
    h("h2", { id: "links-title" }, "Links"),
    h(
      "ul",
      { class: "plain" },
      h(
        "li",
        {},
        h(
          "button",
          {
            type: "button",
            class: "ghost small",
            onclick: async (event) => {
              try {
                downloadJson("wfsidecar-openapi.json", await api.openapi());
              } catch (error) {
                event.target.after(errorBox(error));
              }
            },
          },
          "Download the OpenAPI document",
        ),
        " of the HTTP API (docs/http-api.md)",
      ),
      h(
        "li",
        {},
        metrics
          ? [
              h("a", { href: `http://${location.hostname}:${metrics.port}/metrics` }, "Prometheus metrics"),
              ` on port ${metrics.port} (with tokens set, a scrape sends the read-only token as Authorization: Bearer)`,
            ]
          : "Prometheus metrics: off (metrics.enabled, --metrics-port)",
      ),
    ),
    h(
      "form",
      {
        class: "inline-form",
        onsubmit: (event) => {
          event.preventDefault();
          setTraceTemplate(input.value.trim());
          saved.textContent = input.value.trim() ? "saved in this browser" : "cleared";
        },
      },
      h("label", { for: "trace-template" }, "Trace URL template ({traceId}, {instanceId})"),
      input,
      h("button", { type: "submit", class: "ghost" }, "Save"),
      saved,
      h("p", { class: "muted small", id: "trace-template-source" }, `Trace links: ${configured}.`),
    ),
  );
}
