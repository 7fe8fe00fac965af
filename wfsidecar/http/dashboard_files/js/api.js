// The daemon's public HTTP API (docs/http-api.md), as the dashboard uses it: nothing here
// that `wfsidecar workflow ...` could not do. The token lives in sessionStorage (gone when
// the tab closes, never in a URL) and goes out as Dapr's `dapr-api-token` header.

const TOKEN_KEY = "wfsidecar.token";
const WORKFLOWS = "/v1.0/workflows/dapr";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
  role = null;
}

async function call(method, path, { query, body, json } = {}) {
  const headers = {};
  const secret = token();
  if (secret) headers["dapr-api-token"] = secret;
  let payload = body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(json);
  }
  const url = query ? `${path}?${query}` : path;
  let response;
  try {
    response = await fetch(url, { method, headers, body: payload, cache: "no-store" });
  } catch (error) {
    throw new ApiError(0, "", `the daemon did not answer (${error.message})`);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    // Every API error has Dapr's shape: {"errorCode": "ERR_...", "message": "..."}.
    const code = data && data.errorCode ? data.errorCode : "";
    const message = data && data.message ? data.message : text || response.statusText;
    throw new ApiError(response.status, code, message);
  }
  return data;
}

const seg = encodeURIComponent;
const instance = (id) => `${WORKFLOWS}/${seg(id)}`;

function withDryRun(filters, dryRun) {
  const query = new URLSearchParams(filters);
  if (dryRun) query.set("dryRun", "true");
  return query.toString();
}

export const api = {
  list: (params) => call("GET", WORKFLOWS, { query: params.toString() }),
  get: (id) => call("GET", instance(id)),
  history: (id) => call("GET", `${instance(id)}/history`),
  diagnostics: (id) => call("GET", `${instance(id)}/diagnostics`),
  metadata: () => call("GET", "/v1.0/metadata"),
  storage: () => call("GET", "/v1.0/storage", { query: "largest=10" }),
  openapi: () => call("GET", "/v1.0/openapi.json"),
  start: (name, id, input) =>
    call("POST", `${WORKFLOWS}/${seg(name)}/start`, {
      query: id ? `instanceID=${seg(id)}` : "",
      body: input,
    }),
  raiseEvent: (id, name, data) => call("POST", `${instance(id)}/raiseEvent/${seg(name)}`, { body: data }),
  suspend: (id, reason) => call("POST", `${instance(id)}/pause`, { query: reason ? `reason=${seg(reason)}` : "" }),
  resume: (id, reason) => call("POST", `${instance(id)}/resume`, { query: reason ? `reason=${seg(reason)}` : "" }),
  terminate: (id) => call("POST", `${instance(id)}/terminate`),
  purge: (id) => call("POST", `${instance(id)}/purge`),
  rerun: (id, request) => call("POST", `${instance(id)}/rerun`, { json: request }),
  // Bulk: `filters` are the list's filters (no sort, page or cursor); dryRun only counts.
  bulkTerminate: (filters, dryRun) => call("POST", `${WORKFLOWS}/terminate`, { query: withDryRun(filters, dryRun) }),
  bulkPurge: (filters, dryRun) => call("POST", `${WORKFLOWS}/purge`, { query: withDryRun(filters, dryRun) }),
};

// What the token may do: "admin", "read-only", or "none" (a daemon with tokens and none
// given, or a wrong one). The API has no "who am I"; a bulk purge dry run is the
// cheapest call that needs the admin token and changes nothing (it only counts, and no
// id the HTTP API starts begins with a space). docs/dashboard.md.
let role = null;

export async function currentRole() {
  if (role) return role;
  try {
    await call("POST", `${WORKFLOWS}/purge`, { query: "dryRun=true&idPrefix=%20ui-role-probe" });
    role = "admin";
  } catch (error) {
    if (error.status === 403) role = "read-only";
    else if (error.status === 401)
      return "none"; // not kept: the next page asks again
    else throw error;
  }
  return role;
}
