// A link from an instance to its trace in Zipkin or Jaeger. The URL template is the
// daemon's tracing.ui_url_template (reported by /v1.0/metadata) unless this browser set its
// own on the daemon page, e.g. http://localhost:9411/zipkin/traces/{traceId} or
// http://localhost:16686/trace/{traceId}; {instanceId} is also replaced.
//
// The trace id comes from the history's ExecutionStarted as the daemon derives it
// (telemetry/trace_ids.py): the caller's traceparent when one came in, else the first 32
// hex digits of SHA-256("trace" \x1f instance id \x1f the instance span id).

import { api } from "./api.js";
import { h } from "./dom.js";

const TEMPLATE_KEY = "wfsidecar.traceUrlTemplate";

// This browser's own template ("" when it has none).
export function traceTemplate() {
  return localStorage.getItem(TEMPLATE_KEY) || "";
}

let configured = null;

// The daemon's configured template ("" when none), asked for once per page load.
export function daemonTraceTemplate() {
  if (!configured) {
    configured = api.metadata().then(
      (meta) => meta.traceUrlTemplate || "",
      () => "",
    );
  }
  return configured;
}

export function setTraceTemplate(value) {
  if (value) localStorage.setItem(TEMPLATE_KEY, value);
  else localStorage.removeItem(TEMPLATE_KEY);
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}/;

export async function traceId(instanceId, started) {
  if (!started || !started.orchestrationSpanID) {
    const parent = started && started.parentTraceContext && started.parentTraceContext.traceParent;
    const match = parent ? TRACEPARENT.exec(parent.toLowerCase()) : null;
    return match ? match[1] : null;
  }
  const parent = started.parentTraceContext && started.parentTraceContext.traceParent;
  const match = parent ? TRACEPARENT.exec(parent.toLowerCase()) : null;
  if (match) return match[1];
  if (!crypto.subtle) return null; // only in a secure context (https, or localhost)
  const text = ["trace", instanceId, started.orchestrationSpanID].join("\x1f");
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("")
    .slice(0, 32);
}

export function traceLink(instanceId, started) {
  const span = h("span", { class: "muted" }, "…");
  (async () => {
    const template = traceTemplate() || (await daemonTraceTemplate());
    if (!template) {
      span.textContent = "set a trace URL on the Daemon page";
      return;
    }
    const id = await traceId(instanceId, started);
    if (!id) {
      span.textContent = "not traced";
      return;
    }
    const href = template.replaceAll("{traceId}", id).replaceAll("{instanceId}", encodeURIComponent(instanceId));
    span.replaceWith(h("a", { href, target: "_blank", rel: "noopener noreferrer", class: "mono" }, id));
  })();
  return span;
}
