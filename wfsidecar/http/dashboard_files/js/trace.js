// A link from an instance to its trace in Zipkin or Jaeger. The URL template is a
// setting of this browser (the daemon page), e.g. http://localhost:9411/zipkin/traces/{traceId}
// or http://localhost:16686/trace/{traceId}; {instanceId} is also replaced.
//
// The trace id comes from the history's ExecutionStarted as the daemon derives it
// (telemetry/trace_ids.py): the caller's traceparent when one came in, else the first 32
// hex digits of SHA-256("trace" \x1f instance id \x1f the instance span id).

import { h } from "./dom.js";

const TEMPLATE_KEY = "wfsidecar.traceUrlTemplate";

export function traceTemplate() {
  return localStorage.getItem(TEMPLATE_KEY) || "";
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
  const template = traceTemplate();
  const span = h("span", { class: "muted" }, template ? "not traced" : "set a trace URL on the Daemon page");
  if (!template) return span;
  traceId(instanceId, started).then((id) => {
    if (!id) return;
    const href = template.replaceAll("{traceId}", id).replaceAll("{instanceId}", encodeURIComponent(instanceId));
    span.replaceWith(h("a", { href, target: "_blank", rel: "noopener noreferrer", class: "mono" }, id));
  });
  return span;
}
