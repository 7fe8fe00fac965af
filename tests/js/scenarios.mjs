// Acceptance scenarios for @microsoft/durabletask-js 0.4.0 against a wfsidecar daemon.
//
// Usage: SIDECAR=host:port node scenarios.mjs [scenario ...]
//
// One TaskHubGrpcClient and one TaskHubGrpcWorker connect to the daemon's Microsoft-dialect
// listener. Every scenario asserts its own outcome. stdout gets exactly one JSON line,
// {"<scenario>": "ok" | "<error message>", ...}; SDK and progress logs go to stderr. The exit
// code is 0 only if every scenario passed. Scenarios run one after another, each with its own
// deadline, so one hang cannot hide the others' results.
//
// Written against the package's dist/ code: orchestrators are async generators that yield
// Tasks, activities are plain (possibly async) functions of (ctx, input).

import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const dt = require("@microsoft/durabletask-js");
const {
  TaskHubGrpcClient,
  TaskHubGrpcWorker,
  OrchestrationStatus,
  PurgeInstanceCriteria,
  HistoryEventType,
  whenAll,
  whenAny,
} = dt;

const SIDECAR = process.env.SIDECAR;
if (!SIDECAR) {
  console.error("set SIDECAR=host:port (the daemon's --durabletask-grpc-port listener)");
  process.exit(2);
}
const SCENARIO_DEADLINE_MS = Number(process.env.SCENARIO_DEADLINE_MS ?? 60_000);
const WAIT_S = 30; // waitForOrchestration* timeout, seconds
const VERBOSE = process.env.DT_JS_VERBOSE === "1";

// --- logging: everything to stderr, stdout is reserved for the result line -------------------
const t0 = Date.now();
const stamp = () => `[js +${((Date.now() - t0) / 1000).toFixed(2)}s]`;
const log = (...args) => console.error(stamp(), ...args);
const sdkLogger = (who) => ({
  error: (m, ...a) => console.error(stamp(), `${who} ERROR`, m, ...a),
  warn: (m, ...a) => console.error(stamp(), `${who} WARN`, m, ...a),
  info: (m, ...a) => { if (VERBOSE) console.error(stamp(), `${who}`, m, ...a); },
  debug: (m, ...a) => { if (VERBOSE) console.error(stamp(), `${who} debug`, m, ...a); },
});

// --- assertions ------------------------------------------------------------------------------
class AssertionFailed extends Error {}
function check(cond, msg) {
  if (!cond) throw new AssertionFailed(msg);
}
function eq(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new AssertionFailed(`${what}: expected ${e}, got ${a}`);
}
const statusName = (s) =>
  Object.keys(OrchestrationStatus).find((k) => OrchestrationStatus[k] === s) ?? String(s);
const parse = (s) => (s === undefined || s === "" ? undefined : JSON.parse(s));
const uid = (prefix) => `${prefix}-${randomUUID().slice(0, 8)}`;

function describe(state) {
  if (!state) return "no such instance";
  const fd = state.failureDetails;
  return `${statusName(state.runtimeStatus)}` +
    (fd ? ` (failure ${fd.errorType}: ${fd.message})` : "") +
    (state.serializedOutput ? ` output=${state.serializedOutput}` : "");
}

async function waitDone(client, id, expected = OrchestrationStatus.COMPLETED) {
  const state = await client.waitForOrchestrationCompletion(id, true, WAIT_S);
  check(state, `instance ${id} not found while waiting for completion`);
  check(state.runtimeStatus === expected,
    `instance ${id}: expected ${statusName(expected)}, got ${describe(state)}`);
  return state;
}

async function waitStarted(client, id) {
  const state = await client.waitForOrchestrationStart(id, false, WAIT_S);
  check(state, `instance ${id} not found while waiting for start`);
  check(state.runtimeStatus !== OrchestrationStatus.PENDING, `instance ${id} still PENDING`);
  return state;
}

async function expectReject(promise, pattern, what) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  check(err, `${what}: expected an error, the call succeeded`);
  const text = `${err.message} ${err.cause?.message ?? ""}`;
  check(pattern.test(text), `${what}: error ${JSON.stringify(text)} does not match ${pattern}`);
}

// --- activities and orchestrators ------------------------------------------------------------
let restartActivityRuns = 0;

const activities = {
  hello: (_ctx, name) => `Hello, ${name}!`,
  square: async (_ctx, n) => n * n,
  add_one: (_ctx, n) => n + 1,
  count_run: (_ctx, input) => {
    restartActivityRuns += 1;
    return `run:${input}`;
  },
};

const orchestrators = {
  sequence: async function* (ctx, cities) {
    const out = [];
    for (const city of cities) {
      out.push(yield ctx.callActivity("hello", city));
    }
    return out;
  },

  fan_out_fan_in: async function* (ctx, count) {
    const tasks = [];
    for (let i = 1; i <= count; i++) tasks.push(ctx.callActivity("square", i));
    const squares = yield whenAll(tasks);
    return { squares, sum: squares.reduce((a, b) => a + b, 0) };
  },

  child: async function* (ctx, n) {
    const plus = yield ctx.callActivity("add_one", n);
    return { child: ctx.instanceId, parent: ctx.parent?.instanceId ?? null, value: plus * 10 };
  },

  parent: async function* (ctx, input) {
    const a = yield ctx.callSubOrchestrator("child", input.n, { instanceId: input.childId });
    const b = yield ctx.callSubOrchestrator("child", input.n + 1);
    return { a, b: b.value };
  },

  approval: async function* (ctx, timeoutSeconds) {
    const event = ctx.waitForExternalEvent("approval");
    const timer = ctx.createTimer(timeoutSeconds);
    const winner = yield whenAny([event, timer]);
    if (winner === event) return { approved: event.getResult() };
    return "timed out";
  },

  wait_forever: async function* (ctx) {
    const value = yield ctx.waitForExternalEvent("never");
    return value;
  },

  counter: async function* (ctx, n) {
    const next = yield ctx.callActivity("add_one", n);
    if (next < 5) {
      ctx.continueAsNew(next, false);
      return;
    }
    return { final: next, instance: ctx.instanceId };
  },

  restartable: async function* (ctx, input) {
    return yield ctx.callActivity("count_run", input);
  },

  suspendable: async function* (ctx) {
    const value = yield ctx.waitForExternalEvent("go");
    return `got ${value}`;
  },
};

// --- scenarios -------------------------------------------------------------------------------
const scenarios = {
  async activity_sequence(client) {
    const id = await client.scheduleNewOrchestration("sequence", ["Tokyo", "Seattle", "London"]);
    const state = await waitDone(client, id);
    eq(parse(state.serializedOutput), ["Hello, Tokyo!", "Hello, Seattle!", "Hello, London!"],
      "output");
    eq(parse(state.serializedInput), ["Tokyo", "Seattle", "London"], "input");
    eq(state.name, "sequence", "name");
  },

  async fan_out_fan_in(client) {
    const id = await client.scheduleNewOrchestration("fan_out_fan_in", 10);
    const state = await waitDone(client, id);
    const out = parse(state.serializedOutput);
    eq(out.squares, [1, 4, 9, 16, 25, 36, 49, 64, 81, 100], "squares (in task order)");
    eq(out.sum, 385, "sum");
  },

  async sub_orchestration(client) {
    const parentId = uid("parent");
    const childId = `${parentId}-child`;
    await client.scheduleNewOrchestration("parent", { n: 1, childId }, parentId);
    const state = await waitDone(client, parentId);
    eq(parse(state.serializedOutput), { a: { child: childId, parent: parentId, value: 20 }, b: 30 },
      "parent output");
    const child = await client.getOrchestrationState(childId, true);
    check(child, `sub-orchestration ${childId} not found`);
    eq(statusName(child.runtimeStatus), "COMPLETED", "child status");
    eq(child.name, "child", "child name");
    eq(parse(child.serializedOutput), { child: childId, parent: parentId, value: 20 }, "child output");
  },

  async external_event_arrives(client) {
    const id = await client.scheduleNewOrchestration("approval", 60);
    await waitStarted(client, id);
    await client.raiseOrchestrationEvent(id, "approval", { by: "js", ok: true });
    const state = await waitDone(client, id);
    eq(parse(state.serializedOutput), { approved: { by: "js", ok: true } }, "output");
  },

  async external_event_timeout(client) {
    const started = Date.now();
    const id = await client.scheduleNewOrchestration("approval", 2);
    const state = await waitDone(client, id);
    eq(parse(state.serializedOutput), "timed out", "output");
    const elapsed = (Date.now() - started) / 1000;
    check(elapsed >= 1.5, `timer fired after ${elapsed}s, before its 2 s`);
  },

  async terminate(client) {
    const id = await client.scheduleNewOrchestration("wait_forever");
    await waitStarted(client, id);
    await client.terminateOrchestration(id, { reason: "stopped by js" });
    const state = await waitDone(client, id, OrchestrationStatus.TERMINATED);
    eq(parse(state.serializedOutput), { reason: "stopped by js" }, "terminate output");
    // Terminating an instance that already ended is accepted and changes nothing.
    await client.terminateOrchestration(id, "again");
    const after = await client.getOrchestrationState(id, true);
    eq(statusName(after.runtimeStatus), "TERMINATED", "status after second terminate");
    eq(parse(after.serializedOutput), { reason: "stopped by js" }, "output after second terminate");
  },

  async continue_as_new(client) {
    const id = await client.scheduleNewOrchestration("counter", 0);
    const state = await waitDone(client, id);
    eq(parse(state.serializedOutput), { final: 5, instance: id }, "output");
    eq(parse(state.serializedInput), 4, "input of the last generation");
    const history = await client.getOrchestrationHistory(id);
    const kinds = history.map((e) => e.type);
    eq(kinds.filter((k) => k === HistoryEventType.TaskScheduled).length, 1,
      "TaskScheduled events in the last generation's history");
  },

  async purge(client) {
    // By instance id: a completed instance is deleted, and is gone afterwards.
    const done = await client.scheduleNewOrchestration("sequence", ["P"]);
    await waitDone(client, done);
    let res = await client.purgeOrchestration(done);
    eq(res?.deletedInstanceCount, 1, "purge completed instance: deletedInstanceCount");
    eq(await client.getOrchestrationState(done), undefined, "state after purge");
    res = await client.purgeOrchestration(done);
    eq(res?.deletedInstanceCount, 0, "purge again: deletedInstanceCount");

    // Recursive purge takes the sub-orchestrations along.
    const parentId = uid("purge-parent");
    await client.scheduleNewOrchestration("parent", { n: 1, childId: `${parentId}-child` }, parentId);
    await waitDone(client, parentId);
    res = await client.purgeOrchestration(parentId, { recursive: true });
    eq(res?.deletedInstanceCount, 3, "recursive purge of parent + 2 children: deletedInstanceCount");
    eq(await client.getOrchestrationState(`${parentId}-child`), undefined, "child after recursive purge");

    // By filter: created after `since`, COMPLETED only; the running one is untouched.
    const since = new Date(Date.now() - 1);
    const a = await client.scheduleNewOrchestration("sequence", ["A"]);
    const b = await client.scheduleNewOrchestration("sequence", ["B"]);
    await waitDone(client, a);
    await waitDone(client, b);
    const running2 = await client.scheduleNewOrchestration("wait_forever");
    await waitStarted(client, running2);
    const criteria = new PurgeInstanceCriteria();
    criteria.setCreatedTimeFrom(since);
    criteria.setRuntimeStatusList([OrchestrationStatus.COMPLETED]);
    criteria.setTimeout(WAIT_S * 1000);
    res = await client.purgeOrchestration(criteria);
    eq(res?.deletedInstanceCount, 2, "purge by filter: deletedInstanceCount");
    eq(await client.getOrchestrationState(a), undefined, "state of A after filter purge");
    eq(await client.getOrchestrationState(b), undefined, "state of B after filter purge");
    check(await client.getOrchestrationState(running2), "running instance purged by a COMPLETED filter");

    // By id, a running instance is not purged: the SDK documents a count of 0 (checked last,
    // after the cases above, so a failure here does not hide theirs).
    try {
      res = await client.purgeOrchestration(running2);
      eq(res?.deletedInstanceCount, 0, "purge running instance by id: deletedInstanceCount");
      check(await client.getOrchestrationState(running2), "running instance vanished after purge");
    } finally {
      await client.terminateOrchestration(running2, "cleanup");
      await waitDone(client, running2, OrchestrationStatus.TERMINATED);
    }
  },

  async query(client) {
    const prefix = uid("query");
    const ids = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
    await client.scheduleNewOrchestration("sequence", ["Qa"], ids[0]);
    await client.scheduleNewOrchestration("sequence", ["Qb"], ids[1]);
    await client.scheduleNewOrchestration("wait_forever", undefined, ids[2]);
    await waitDone(client, ids[0]);
    await waitDone(client, ids[1]);
    await waitStarted(client, ids[2]);

    const collect = async (filter) => {
      const found = [];
      for await (const s of client.getAllInstances(filter)) found.push(s);
      return found;
    };

    const completed = await collect({
      instanceIdPrefix: prefix, statuses: [OrchestrationStatus.COMPLETED], fetchInputsAndOutputs: true,
    });
    eq(completed.map((s) => s.instanceId).sort(), ids.slice(0, 2), "COMPLETED ids under the prefix");
    eq(completed.map((s) => parse(s.serializedOutput)).sort(), [["Hello, Qa!"], ["Hello, Qb!"]],
      "outputs with fetchInputsAndOutputs");
    check(completed.every((s) => s.name === "sequence"), "query results carry the name");

    const running = await collect({ instanceIdPrefix: prefix, statuses: [OrchestrationStatus.RUNNING] });
    eq(running.map((s) => s.instanceId), [ids[2]], "RUNNING ids under the prefix");

    const noPayload = await collect({ instanceIdPrefix: prefix, statuses: [OrchestrationStatus.COMPLETED] });
    check(noPayload.every((s) => s.serializedOutput === undefined),
      "outputs returned although fetchInputsAndOutputs was false");

    // Paging: one instance per page still yields all three, each once.
    const pages = [];
    for await (const page of client.getAllInstances({ instanceIdPrefix: prefix }).asPages(undefined, 1)) {
      pages.push(page.values.map((s) => s.instanceId));
      check(pages.length <= 10, `paging does not end: ${JSON.stringify(pages)}`);
    }
    eq(pages.flat().sort(), ids, "all instances over pages of size 1");
    check(pages.every((p) => p.length <= 1), `a page exceeded the page size: ${JSON.stringify(pages)}`);

    const byStatusOnly = await collect({ statuses: [OrchestrationStatus.RUNNING] });
    check(byStatusOnly.some((s) => s.instanceId === ids[2]), "status-only filter misses the running instance");
    check(byStatusOnly.every((s) => s.runtimeStatus === OrchestrationStatus.RUNNING),
      "status-only filter returned other statuses");

    await client.terminateOrchestration(ids[2], "cleanup");
    await waitDone(client, ids[2], OrchestrationStatus.TERMINATED);
  },

  async restart(client) {
    const id = uid("restart");
    await client.scheduleNewOrchestration("restartable", "in-1", id);
    const first = await waitDone(client, id);
    eq(parse(first.serializedOutput), "run:in-1", "first output");
    const runsBefore = restartActivityRuns;

    // Same instance id: a fresh run with the original input.
    const sameId = await client.restartOrchestration(id, false);
    eq(sameId, id, "restart with the same id returns that id");
    const second = await waitDone(client, id);
    eq(parse(second.serializedOutput), "run:in-1", "output after restart");
    eq(parse(second.serializedInput), "in-1", "input after restart");
    check(restartActivityRuns === runsBefore + 1,
      `activity ran ${restartActivityRuns - runsBefore} times after the restart, expected 1`);
    check(second.createdAt.getTime() >= first.createdAt.getTime(), "createdAt went backwards");

    // New instance id: the original stays as it was.
    const newId = await client.restartOrchestration(id, true);
    check(newId && newId !== id, `restart with a new id returned ${JSON.stringify(newId)}`);
    const third = await waitDone(client, newId);
    eq(parse(third.serializedOutput), "run:in-1", "output of the new instance");
    eq(third.name, "restartable", "name of the new instance");
    eq(statusName((await client.getOrchestrationState(id)).runtimeStatus), "COMPLETED",
      "original after restart with a new id");

    // Errors: unknown instance, and a running instance restarted under the same id.
    await expectReject(client.restartOrchestration(uid("nope"), false), /was not found/,
      "restart of an unknown instance");
    const running = await client.scheduleNewOrchestration("wait_forever");
    await waitStarted(client, running);
    await expectReject(client.restartOrchestration(running, false), /cannot be restarted/,
      "restart of a running instance under the same id");
    await client.terminateOrchestration(running, "cleanup");
    await waitDone(client, running, OrchestrationStatus.TERMINATED);
  },

  // Beyond the issue's list, cheap to cover with the same client.
  async list_instance_ids(client) {
    const ids = [];
    for (const x of ["L1", "L2", "L3"]) ids.push(await client.scheduleNewOrchestration("sequence", [x]));
    for (const id of ids) await waitDone(client, id);
    const seen = [];
    let key;
    for (let i = 0; i < 100; i++) {
      const page = await client.listInstanceIds({
        runtimeStatus: [OrchestrationStatus.COMPLETED], pageSize: 2, lastInstanceKey: key,
      });
      check(page.values.length <= 2, `page of ${page.values.length} ids for pageSize 2`);
      seen.push(...page.values);
      if (!page.hasMoreResults) break;
      key = page.continuationToken;
    }
    check(ids.every((id) => seen.includes(id)), `listInstanceIds misses ${ids.filter((i) => !seen.includes(i))}`);
    eq(new Set(seen).size, seen.length, "no id listed twice");
  },

  async history(client) {
    const id = await client.scheduleNewOrchestration("sequence", ["H"]);
    await waitDone(client, id);
    const kinds = (await client.getOrchestrationHistory(id)).map((e) => e.type);
    for (const k of [HistoryEventType.ExecutionStarted, HistoryEventType.TaskScheduled,
      HistoryEventType.TaskCompleted, HistoryEventType.ExecutionCompleted]) {
      check(kinds.includes(k), `history lacks ${k}: ${kinds.join(",")}`);
    }
    eq(await client.getOrchestrationHistory(uid("nope")), [], "history of an unknown instance");
  },

  async suspend_resume(client) {
    const id = await client.scheduleNewOrchestration("suspendable");
    await waitStarted(client, id);
    await client.suspendOrchestration(id);
    await until(client, id, OrchestrationStatus.SUSPENDED);
    await client.raiseOrchestrationEvent(id, "go", 7);
    await new Promise((r) => setTimeout(r, 500));
    const mid = await client.getOrchestrationState(id);
    eq(statusName(mid.runtimeStatus), "SUSPENDED", "status after an event while suspended");
    await client.resumeOrchestration(id);
    const state = await waitDone(client, id);
    eq(parse(state.serializedOutput), "got 7", "output");
  },
};

async function until(client, id, status, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let state;
  while (Date.now() < deadline) {
    state = await client.getOrchestrationState(id);
    if (state?.runtimeStatus === status) return state;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new AssertionFailed(`instance ${id} never reached ${statusName(status)}: ${describe(state)}`);
}

function withDeadline(promise, ms, name) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`scenario ${name} still running after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function main() {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((n) => !(n in scenarios));
  if (unknown.length) {
    console.error(`unknown scenario(s): ${unknown.join(", ")}; known: ${Object.keys(scenarios).join(", ")}`);
    process.exit(2);
  }
  const names = wanted.length ? wanted : Object.keys(scenarios);

  const client = new TaskHubGrpcClient({ hostAddress: SIDECAR, logger: sdkLogger("client") });
  const worker = new TaskHubGrpcWorker({
    hostAddress: SIDECAR, logger: sdkLogger("worker"), shutdownTimeoutMs: 2000,
  });
  for (const [name, fn] of Object.entries(orchestrators)) worker.addNamedOrchestrator(name, fn);
  for (const [name, fn] of Object.entries(activities)) worker.addNamedActivity(name, fn);
  await worker.start();
  log(`node ${process.version}, @microsoft/durabletask-js ${require("@microsoft/durabletask-js/package.json").version}, sidecar ${SIDECAR}`);

  const results = {};
  for (const name of names) {
    const started = Date.now();
    try {
      await withDeadline(scenarios[name](client), SCENARIO_DEADLINE_MS, name);
      results[name] = "ok";
    } catch (e) {
      const msg = e instanceof AssertionFailed ? e.message
        : `${e?.constructor?.name ?? "Error"}: ${e?.message ?? e}` +
          (e?.code !== undefined ? ` (grpc code ${e.code})` : "") +
          (e?.cause?.message ? ` [cause: ${e.cause.message}]` : "");
      results[name] = msg || "failed without a message";
    }
    log(`${name}: ${results[name]} (${Date.now() - started} ms)`);
  }

  process.stdout.write(`${JSON.stringify(results)}\n`);
  const failed = Object.values(results).some((r) => r !== "ok");
  // Stopping must not hide the results; grpc-js handles could keep the loop alive, so exit.
  await withDeadline(Promise.allSettled([worker.stop(), client.stop()]), 5000, "shutdown").catch(
    (e) => log(e.message));
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(stamp(), "fatal:", e);
  process.stdout.write(`${JSON.stringify({ setup: `${e?.message ?? e}` })}\n`);
  process.exit(1);
});
