// The dashboard's shell: hash routes (#/, #/instance/<id>, #/daemon), the token dialog,
// and the timers a page asks for, stopped when the user goes elsewhere.

import { currentRole, setToken, token } from "./api.js";
import { clear, describeError, h } from "./dom.js";
import { renderDaemon } from "./daemon.js";
import { renderInstance } from "./instance.js";
import { renderInstances } from "./instances.js";

const main = document.getElementById("main");
let timers = [];
let generation = 0;

function parseRoute() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = hash.split("?");
  const params = new URLSearchParams(query);
  if (path.startsWith("/instance/")) {
    return { page: "instance", id: decodeURIComponent(path.slice("/instance/".length)), params };
  }
  if (path === "/daemon") return { page: "daemon", params };
  if (path === "/" || path === "/instances") return { page: "instances", params };
  return { page: "unknown", path, params };
}

async function route() {
  for (const timer of timers) clearInterval(timer);
  timers = [];
  generation += 1;
  const mine = generation;
  const current = parseRoute();
  document.querySelectorAll("[data-nav]").forEach((link) => {
    const active = link.dataset.nav === (current.page === "instance" ? "instances" : current.page);
    if (active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  });
  const ctx = {
    params: current.params,
    role: "none",
    // A page's periodic refresh; the callback is dropped once the user has navigated.
    every(ms, fn) {
      timers.push(
        setInterval(() => {
          if (mine === generation) fn();
        }, ms),
      );
    },
    alive: () => mine === generation,
    navigate(hash) {
      location.hash = hash;
    },
  };
  try {
    ctx.role = await currentRole();
  } catch (error) {
    clear(main, h("div", { class: "error", role: "alert" }, describeError(error)));
    return;
  }
  showRole(ctx.role);
  if (!ctx.alive()) return;
  if (ctx.role === "none") {
    clear(main, tokenNeeded());
    return;
  }
  clear(main, h("p", { class: "muted loading" }, "Loading…"));
  if (current.page === "instances") await renderInstances(main, ctx);
  else if (current.page === "instance") await renderInstance(main, ctx, current.id);
  else if (current.page === "daemon") await renderDaemon(main, ctx);
  else
    clear(
      main,
      h("h1", {}, "Not found"),
      h("p", {}, `No page ${current.path}. `, h("a", { href: "#/" }, "Back to the instances")),
    );
}

function showRole(role) {
  const badge = document.getElementById("role");
  const text = { admin: "admin", "read-only": "read-only", none: "no valid token" }[role];
  badge.textContent = token() || role !== "admin" ? text : "no token needed";
  badge.className = `role role-${role}`;
}

function tokenNeeded() {
  const why = token() ? "The token given is not one of this daemon's." : "This daemon asks for an API token.";
  return h(
    "section",
    { class: "card narrow" },
    h("h1", {}, "Token needed"),
    h("p", {}, why, " The read-only token is enough to look around."),
    h("button", { type: "button", class: "primary", onclick: openTokenDialog }, "Enter token"),
  );
}

function openTokenDialog() {
  const dialog = document.getElementById("token-dialog");
  const input = document.getElementById("token-input");
  input.value = "";
  dialog.showModal();
  input.focus();
}

function wireTokenDialog() {
  const dialog = document.getElementById("token-dialog");
  document.getElementById("token-button").addEventListener("click", openTokenDialog);
  document.getElementById("token-cancel").addEventListener("click", () => dialog.close());
  document.getElementById("token-clear").addEventListener("click", () => {
    setToken("");
    dialog.close();
    route();
  });
  document.getElementById("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setToken(document.getElementById("token-input").value.trim());
    dialog.close();
    route();
  });
}

wireTokenDialog();
window.addEventListener("hashchange", route);
// Pages re-render after an action through this event (actions.js).
window.addEventListener("wfsidecar:changed", route);
route();
