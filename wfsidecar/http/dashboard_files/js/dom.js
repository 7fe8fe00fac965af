// Building elements and formatting values. Text always goes in as text nodes, never as
// HTML, so a workflow name or payload can never inject markup into the page.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "style") Object.assign(el.style, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// A table that scrolls sideways inside its card on a narrow screen, not the whole page.
export function scrolling(table) {
  return h("div", { class: "table-wrap" }, table);
}

// A table's header row: one column per title (a string or a node; null: no column).
export function tableHead(...titles) {
  return h("thead", {}, h("tr", {}, titles.map((t) => (t === null ? null : h("th", { scope: "col" }, t)))));
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const FINISHED = new Set(["COMPLETED", "FAILED", "TERMINATED", "CANCELED", "CONTINUED_AS_NEW"]);
export const STATUSES = [
  "RUNNING",
  "PENDING",
  "SUSPENDED",
  "STALLED",
  "COMPLETED",
  "FAILED",
  "TERMINATED",
  "CANCELED",
  "CONTINUED_AS_NEW",
];

export function statusBadge(status) {
  return h("span", { class: `badge status-${status.toLowerCase()}` }, status);
}

export function instanceHref(id) {
  return `#/instance/${encodeURIComponent(id)}`;
}

export function instanceLink(id) {
  return h("a", { href: instanceHref(id), class: "mono" }, id);
}

// Ages as kubectl writes them (what `wfsidecar workflow list` shows): 12s, 3m10s, 2h5m, 9d.
export function age(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60 ? `${s % 60}s` : ""}`;
  if (m < 60) return `${m}m`;
  const hrs = Math.floor(m / 60);
  if (hrs < 24) return `${hrs}h${m % 60 ? `${m % 60}m` : ""}`;
  const d = Math.floor(hrs / 24);
  return d < 10 ? `${d}d${hrs % 24 ? `${hrs % 24}h` : ""}` : `${d}d`;
}

export function ago(iso, now = Date.now()) {
  if (!iso) return "";
  return `${age(now - Date.parse(iso))} ago`;
}

// A time element: relative text, the exact UTC time on hover and for screen readers.
export function timeAgo(iso, now = Date.now()) {
  if (!iso) return h("span", { class: "muted" }, "—");
  return h("time", { datetime: iso, title: iso }, ago(iso, now));
}

export function duration(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  return age(ms);
}

export function bytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

// A payload as the API gives it (Dapr's properties hold JSON text): parsed when it is
// JSON, pretty-printed, and folded away behind a summary when it is long.
export function jsonBlock(label, value, { foldOver = 12 } = {}) {
  let text = value;
  if (typeof value === "string") {
    try {
      text = JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      text = value;
    }
  } else {
    text = JSON.stringify(value, null, 2);
  }
  if (text === undefined || text === "") {
    return h("div", { class: "payload" }, h("h3", {}, label), h("p", { class: "muted" }, "none"));
  }
  const pre = h("pre", { class: "json", tabindex: "0", "aria-label": label }, text);
  const lines = text.split("\n").length;
  if (lines <= foldOver) return h("div", { class: "payload" }, h("h3", {}, label), pre);
  return h(
    "details",
    { class: "payload" },
    h("summary", {}, h("h3", {}, label), h("span", { class: "muted" }, ` ${lines} lines`)),
    pre,
  );
}

// One fact of a summary: HTML lets a <dl> group each dt/dd pair in a <div>, which the
// CSS lays out as a grid of cards that reflows with the width.
export function field(label, ...value) {
  return h("div", { class: "fact" }, h("dt", {}, label), h("dd", {}, ...value));
}

export function errorBox(error) {
  return h("div", { class: "error", role: "alert" }, describeError(error));
}

export function describeError(error) {
  if (error && error.status !== undefined) {
    const code = error.code ? ` ${error.code}` : "";
    return `${error.status}${code}: ${error.message}`;
  }
  return String(error && error.message ? error.message : error);
}

// Saves `data` as a JSON file (what `wfsidecar workflow export` writes for a history): the
// page fetched it with the token, so a plain link to the API would be refused.
export function downloadJson(filename, data) {
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
  const link = h("a", { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}
