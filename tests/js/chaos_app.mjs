// The chaos harness's worker for @microsoft/durabletask-js (tests/chaos, `--sdk js`): the
// same workflows as tests/chaos/chaos_app_ms.py, durable entity included.
//
// Usage: DURABLETASK_ENDPOINT=host:port ACTIVITY_LOG=path node chaos_app.mjs
//
// Every activity execution appends "<workflow id> <input as JSON>\n" to $ACTIVITY_LOG with
// one write on an O_APPEND descriptor, so concurrent lines never mix. Lives here so that
// node resolves the SDK from tests/js/node_modules. Change it together with
// tests/chaos/workload.py.

import { openSync, writeSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { TaskHubGrpcWorker, TaskEntity, EntityInstanceId, whenAll } =
  require("@microsoft/durabletask-js");

const LOG_FD = openSync(process.env.ACTIVITY_LOG, "a");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function inc(ctx, value) {
  await sleep(10); // long enough for a kill to land while activities are in flight
  writeSync(LOG_FD, `${ctx.orchestrationId} ${JSON.stringify(value)}\n`);
  return value + 1;
}

async function* chain(ctx, value) {
  for (let i = 0; i < 3; i++) value = yield ctx.callActivity("inc", value);
  return value;
}

async function* fanout(ctx, value) {
  const results = yield whenAll([0, 1, 2, 3, 4].map((i) => ctx.callActivity("inc", value + i)));
  return results.reduce((a, b) => a + b, 0);
}

async function* timer(ctx, value) {
  yield ctx.createTimer(1 + (value % 3));
  return yield ctx.callActivity("inc", value);
}

async function* parent(ctx, value) {
  const result = yield ctx.callSubOrchestrator("chain", value,
    { instanceId: `${ctx.instanceId}-child` });
  return result + 1;
}

async function* event(ctx, value) {
  const payload = yield ctx.waitForExternalEvent("go");
  return payload + value;
}

async function* relay(ctx, [value, generation]) {
  if (generation === 3) return value;
  const next = yield ctx.callActivity("inc", value);
  ctx.continueAsNew([next, generation + 1], false);
  return undefined;
}

async function* hold(ctx, value) {
  const payload = yield ctx.waitForExternalEvent("go");
  return yield ctx.callActivity("inc", payload + value);
}

async function* forever(ctx, value) {
  yield ctx.waitForExternalEvent("never");
  return value;
}

async function* tally(ctx, value) {
  const counter = new EntityInstanceId("counter", ctx.instanceId);
  yield ctx.entities.callEntity(counter, "add", value);
  yield ctx.entities.callEntity(counter, "add", 1);
  return yield ctx.entities.callEntity(counter, "add", 1);
}

class Counter extends TaskEntity {
  initializeState() {
    return 0;
  }

  add(amount) {
    this.state += amount;
    return this.state;
  }
}

const quiet = {
  error: (m, ...a) => console.error("worker ERROR", m, ...a),
  warn: (m, ...a) => console.error("worker WARN", m, ...a),
  info: () => {},
  debug: () => {},
};

const worker = new TaskHubGrpcWorker({
  hostAddress: process.env.DURABLETASK_ENDPOINT, logger: quiet, shutdownTimeoutMs: 2000,
});
const orchestrators = { chain, fanout, timer, parent, event, relay, hold, forever, tally };
for (const [name, fn] of Object.entries(orchestrators)) worker.addNamedOrchestrator(name, fn);
worker.addNamedActivity("inc", inc);
worker.addNamedEntity("counter", () => new Counter());
await worker.start();
console.log("WORKING");
setInterval(() => {}, 1 << 30); // run until killed
