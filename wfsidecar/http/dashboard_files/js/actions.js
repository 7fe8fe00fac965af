// The management actions (admin token): start, raise an event, suspend, resume,
// terminate, purge, rerun from an activity. Each asks for confirmation in a dialog, and
// an API refusal is shown in that dialog as the API wrote it (status, code, message).

import { api } from "./api.js";
import { FINISHED, bytes, clear, errorBox, h, instanceHref } from "./dom.js";

const dialog = () => document.getElementById("action-dialog");

function confirmAction({ title, intro, fields = [], confirm, danger = false, run, done }) {
  const box = dialog();
  const problem = h("div", { class: "problem" });
  const submit = h("button", { type: "submit", class: danger ? "danger" : "primary" }, confirm);
  const form = h(
    "form",
    { method: "dialog" },
    h("h2", { id: "action-title" }, title),
    intro ? h("p", {}, intro) : null,
    fields,
    problem,
    h(
      "div",
      { class: "buttons" },
      h("button", { type: "button", class: "ghost", onclick: () => box.close() }, "Cancel"),
      submit,
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    clear(problem);
    try {
      const result = await run(form);
      box.close();
      done(result);
    } catch (error) {
      clear(problem, errorBox(error));
    } finally {
      submit.disabled = false;
    }
  });
  clear(box, form);
  box.showModal();
  const first = form.querySelector("input, textarea");
  (first || submit).focus();
}

function inputField(id, label, attrs = {}) {
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, autocomplete: "off", ...attrs }),
  );
}

function jsonField(id, label) {
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    h("textarea", {
      id,
      rows: "4",
      spellcheck: "false",
      placeholder: 'raw text, usually JSON: {"item": "book"}',
    }),
  );
}

const value = (form, id) => form.querySelector(`#${id}`).value;
const refresh = () => window.dispatchEvent(new Event("wfsidecar:changed"));

export function startDialog() {
  // The names of recent instances as suggestions: the API knows no registry of workflows
  // (the workers do), so any name may be typed.
  const names = h("datalist", { id: "a-names" });
  api
    .list(new URLSearchParams({ pageSize: "500" }))
    .then((page) => {
      const seen = [...new Set(page.instances.map((r) => r.workflowName))].sort();
      names.replaceChildren(...seen.map((name) => h("option", { value: name })));
    })
    .catch(() => {});
  confirmAction({
    title: "Start a workflow",
    confirm: "Start",
    fields: [
      inputField("a-name", "Workflow name", { required: true, list: "a-names" }),
      names,
      inputField("a-id", "Instance id (empty: a random UUID)"),
      jsonField("a-input", "Input"),
    ],
    run: (form) =>
      api.start(value(form, "a-name").trim(), value(form, "a-id").trim(), value(form, "a-input") || undefined),
    done: (result) => {
      location.hash = instanceHref(result.instanceID);
    },
  });
}

export function actionBar(id, status, workflowName) {
  const button = (label, onclick, cls = "ghost") => h("button", { type: "button", class: cls, onclick }, label);
  const finished = FINISHED.has(status);
  return h(
    "div",
    { class: "actions", role: "group", "aria-label": "Actions" },
    !finished
      ? button("Raise event", () =>
          confirmAction({
            title: `Raise an event on ${id}`,
            confirm: "Raise event",
            fields: [inputField("a-event", "Event name", { required: true }), jsonField("a-data", "Data")],
            run: (form) => api.raiseEvent(id, value(form, "a-event").trim(), value(form, "a-data") || undefined),
            done: refresh,
          }),
        )
      : null,
    status === "RUNNING" || status === "PENDING" || status === "STALLED"
      ? button("Suspend", () =>
          confirmAction({
            title: `Suspend ${id}?`,
            intro: "It stops taking turns until resumed; events still arrive.",
            confirm: "Suspend",
            fields: [inputField("a-reason", "Reason (recorded in the history)")],
            run: (form) => api.suspend(id, value(form, "a-reason").trim()),
            done: refresh,
          }),
        )
      : null,
    status === "SUSPENDED"
      ? button("Resume", () =>
          confirmAction({
            title: `Resume ${id}?`,
            confirm: "Resume",
            fields: [inputField("a-reason", "Reason (recorded in the history)")],
            run: (form) => api.resume(id, value(form, "a-reason").trim()),
            done: refresh,
          }),
        )
      : null,
    !finished
      ? button(
          "Terminate",
          () =>
            confirmAction({
              title: `Terminate ${id}?`,
              danger: true,
              confirm: "Terminate",
              intro: "It ends now as TERMINATED, and so do its child workflows. This cannot be undone.",
              run: () => api.terminate(id),
              done: refresh,
            }),
          "danger",
        )
      : null,
    finished
      ? button(
          "Purge",
          () =>
            confirmAction({
              title: `Purge ${id}?`,
              danger: true,
              confirm: "Purge",
              intro: "Its history and state are deleted, with its child workflows'. This cannot be undone.",
              run: () => api.purge(id),
              done: () => {
                location.hash = "#/";
              },
            }),
          "danger",
        )
      : null,
    finished
      ? button("Run again", () =>
          confirmAction({
            title: `Start ${workflowName} again`,
            confirm: "Start",
            intro: "A new instance of the same workflow, with the input given here.",
            fields: [inputField("a-id", "New instance id (empty: a random UUID)"), jsonField("a-input", "Input")],
            run: (form) => api.start(workflowName, value(form, "a-id").trim(), value(form, "a-input") || undefined),
            done: (result) => {
              location.hash = instanceHref(result.instanceID);
            },
          }),
        )
      : null,
  );
}

// Rerun from an activity: a new instance replays this history up to the activity, which
// runs again (with a new input, if one is given).
export function rerunButton(id, event) {
  return h(
    "button",
    {
      type: "button",
      class: "ghost small",
      "aria-label": `Rerun from event ${event.eventId}`,
      onclick: () =>
        confirmAction({
          title: `Rerun ${id} from event ${event.eventId} (${event.name})`,
          confirm: "Rerun",
          intro: "A new instance replays the history up to this activity, then runs it again.",
          fields: [
            inputField("a-new-id", "New instance id (empty: a random UUID)"),
            jsonField("a-input", "New input for the activity, as JSON (empty: keep its input)"),
          ],
          run: (form) => {
            const request = { fromEventID: event.eventId };
            const newId = value(form, "a-new-id").trim();
            if (newId) request.newInstanceID = newId;
            const text = value(form, "a-input").trim();
            if (text) request.input = JSON.parse(text);
            return api.rerun(id, request);
          },
          done: (result) => {
            location.hash = instanceHref(result.instanceID);
          },
        }),
    },
    "Rerun from here",
  );
}

// Bulk terminate or purge of everything the list's filters match (the CLI's
// `terminate/purge --all`): the dialog first shows the API's dry run, then does it.
export function bulkDialog(kind, filters) {
  const terminate = kind === "terminate";
  const call = terminate ? api.bulkTerminate : api.bulkPurge;
  const count = h("p", { class: "muted", role: "status" }, "Counting…");
  call(filters, true)
    .then((dry) => {
      count.className = "";
      count.textContent =
        `${dry.matched} ${terminate ? "unfinished" : "finished"} instance(s) match, ` +
        `${bytes(dry.storedBytes)} stored.`;
    })
    .catch((error) => count.replaceWith(errorBox(error)));
  confirmAction({
    title: terminate ? "Terminate every unfinished match?" : "Purge every finished match?",
    danger: true,
    confirm: terminate ? "Terminate them" : "Purge them",
    intro: terminate
      ? "Every unfinished instance the current filters match ends as TERMINATED, with its child workflows."
      : "Every finished instance the current filters match is deleted, with its child workflows. " +
        "This cannot be undone.",
    fields: [count],
    run: () => call(filters, false),
    done: refresh,
  });
}
