// Drives Herald's /api/v1 with the official JavaScript SDK (npm `svix`, pinned in
// package.json), through the SDK only. Same flow as tests/sdk/python/sdk_v2.py.
//
//   node sdk.mjs          run the whole flow; prints one JSON line for the harness
//   node sdk.mjs verify   stdin [{"secret","body","headers"}] -> new Webhook(secret).verify(body, headers)
//
// Environment: HERALD_SDK_SERVER_URL, HERALD_SDK_TOKEN, HERALD_SDK_RECEIVER_URL,
// HERALD_SDK_TIMEOUT (seconds, default 30), HERALD_SDK_KEEP_GOING=1 (run every step).
//
// What the JS SDK does differently from Python 2.x: rotateSecret() does not read the
// answer (the new key comes from getSecret), and list/get/create of messages and
// attempts send ?with_content=false unless told otherwise.

import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

import { MessageStatus, Svix, Webhook } from "svix";

const NAME = "js-svix";

function log(...args) {
  process.stderr.write(`${args.join(" ")}\n`);
}

class CheckFailed extends Error {
  name = "CheckFailed";
}

function check(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

// JSON with object keys sorted, so that equality ignores key order.
function canonical(value) {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object" && !(value instanceof Date)) {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical(value[k])]));
  }
  return value;
}

function same(a, b) {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function checkEq(actual, expected, what) {
  if (!same(actual, expected)) {
    throw new CheckFailed(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

function describe(error) {
  if (error && typeof error.code === "number") {
    // svix ApiException: code is the HTTP status, body the parsed error.
    return `ApiException status=${error.code} body=${JSON.stringify(error.body)}`;
  }
  return `${error?.name ?? "Error"}: ${error?.message ?? error}`;
}

function statusOf(error) {
  return error && typeof error.code === "number" ? error.code : undefined;
}

function env(name) {
  const value = process.env[name];
  if (!value) {
    log(`error: environment variable ${name} is not set`);
    process.exit(2);
  }
  return value;
}

// ------------------------------------------------------------------ verify mode

if (process.argv[2] === "verify") {
  const cases = JSON.parse(readFileSync(0, "utf8"));
  cases.forEach((c, index) => {
    try {
      new Webhook(c.secret).verify(c.body, c.headers);
    } catch (error) {
      log(`[${NAME}] case ${index} does not verify: ${describe(error)}; headers present: ${Object.keys(c.headers).sort()}`);
      process.exit(1);
    }
  });
  console.log("verified", cases.length);
  process.exit(0);
}

// ------------------------------------------------------------------ helpers

const SERVER_URL = env("HERALD_SDK_SERVER_URL");
const TOKEN = env("HERALD_SDK_TOKEN");
const RECEIVER_URL = env("HERALD_SDK_RECEIVER_URL").replace(/\/+$/, "");
const TIMEOUT_MS = Number(process.env.HERALD_SDK_TIMEOUT ?? "30") * 1000;
const KEEP_GOING = process.env.HERALD_SDK_KEEP_GOING === "1";
const RUN = randomUUID().replaceAll("-", "").slice(0, 12);

const require = createRequire(import.meta.url);
const SDK_VERSION = require("svix/package.json").version;

const svix = new Svix(TOKEN, { serverUrl: SERVER_URL });
const s = {};
const out = { sdk: "js-svix", sdk_version: SDK_VERSION, run: RUN };
const passed = [];
const failed = [];

async function step(title, fn) {
  const started = Date.now();
  try {
    await fn();
  } catch (error) {
    const detail = describe(error);
    failed.push([title, detail]);
    log(`[${NAME}] FAIL ${title}: ${detail}`);
    if (!(error instanceof CheckFailed) && statusOf(error) === undefined && error?.stack) log(error.stack);
    if (!KEEP_GOING) {
      log(`[${NAME}] stopping at the first failure (set HERALD_SDK_KEEP_GOING=1 to run every step)`);
      process.exit(1);
    }
    return;
  }
  passed.push(title);
  log(`[${NAME}] ok   ${title} (${((Date.now() - started) / 1000).toFixed(2)}s)`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function poll(what, fn) {
  const deadline = Date.now() + TIMEOUT_MS;
  let lastError;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (error) {
      if (error instanceof CheckFailed) throw error;
      lastError = error;
    }
    if (Date.now() > deadline) {
      const suffix = lastError ? ` (last error: ${describe(lastError)})` : "";
      throw new CheckFailed(`timed out after ${TIMEOUT_MS / 1000}s waiting for ${what}${suffix}`);
    }
    await sleep(200);
  }
}

// Pages through a Svix list by passing `iterator` back until `done`.
async function pageAll(listPage, limit, what, maxPages = 200) {
  const items = [];
  const seen = new Set();
  let iterator;
  for (let page = 0; page < maxPages; page++) {
    const response = await listPage(iterator);
    check(Array.isArray(response.data), `${what}: no data array`);
    check(response.data.length <= limit, `${what}: page of ${response.data.length} items exceeds limit=${limit}`);
    items.push(...response.data);
    if (response.done) return items;
    check(response.iterator, `${what}: done=false but no iterator to continue with`);
    check(!seen.has(response.iterator), `${what}: iterator ${response.iterator} repeated`);
    seen.add(response.iterator);
    iterator = response.iterator;
  }
  throw new CheckFailed(`${what}: still not done after ${maxPages} pages`);
}

function exactlyOnce(ids, expected, what) {
  const duplicates = [...new Set(ids.filter((id, i) => ids.indexOf(id) !== i))];
  check(duplicates.length === 0, `${what}: ids seen more than once: ${duplicates}`);
  const missing = [...expected].filter((id) => !ids.includes(id));
  check(missing.length === 0, `${what}: ids never seen: ${missing} (saw ${ids})`);
}

const ids = (items) => items.map((item) => item.id);
const sorted = (list) => [...(list ?? [])].sort();
const lowerKeys = (o) => Object.fromEntries(Object.entries(o ?? {}).map(([k, v]) => [k.toLowerCase(), v]));

async function expectStatus(status, what, fn) {
  try {
    await fn();
  } catch (error) {
    checkEq(statusOf(error), status, `${what} (${describe(error)})`);
    return;
  }
  throw new CheckFailed(`${what}: did not fail`);
}

const TYPE_A = `sdk.js.${RUN}.user.created`;
const TYPE_B = `sdk.js.${RUN}.user.updated`;
const TYPE_C = `sdk.js.${RUN}.invoice.paid`;
const TYPE_DEL = `sdk.js.${RUN}.to.delete`;
const CHANNEL = "project-1";
out.event_types = { a: TYPE_A, b: TYPE_B, c: TYPE_C };

// ------------------------------------------------------------------ the flow

await step("eventType.create x4", async () => {
  for (const [name, description] of [
    [TYPE_A, "A user was created"],
    [TYPE_B, "A user was updated"],
    [TYPE_C, "An invoice was paid"],
    [TYPE_DEL, "Created to be deleted"],
  ]) {
    const created = await svix.eventType.create({
      name,
      description,
      schemas: { 1: { type: "object", properties: { index: { type: "integer" } } } },
    });
    checkEq(created.name, name, "EventTypeOut.name");
    checkEq(created.description, description, "EventTypeOut.description");
    checkEq(created.deprecated, false, "EventTypeOut.deprecated");
  }
});

await step("application.getOrCreate twice -> same id", async () => {
  const uid = `sdk-js-${RUN}`;
  const first = await svix.application.getOrCreate({ name: `SDK js ${RUN}`, uid, metadata: { suite: "sdk" } });
  const second = await svix.application.getOrCreate({ name: `SDK js ${RUN}`, uid });
  checkEq(second.id, first.id, "getOrCreate twice: application id");
  checkEq(first.uid, uid, "ApplicationOut.uid");
  checkEq(first.metadata, { suite: "sdk" }, "ApplicationOut.metadata");
  check(first.createdAt instanceof Date && !Number.isNaN(first.createdAt.getTime()), "ApplicationOut.createdAt");
  s.appId = first.id;
  s.appUid = uid;
  out.app_id = first.id;
  out.app_uid = uid;
});

await step("application.get by id and by uid; unknown -> 404", async () => {
  checkEq((await svix.application.get(s.appId)).id, s.appId, "application.get(id).id");
  checkEq((await svix.application.get(s.appUid)).id, s.appId, "application.get(uid).id");
  await expectStatus(404, "application.get of an unknown id", () => svix.application.get(`app_missing${RUN}`));
});

await step("application.list paged (limit=1)", async () => {
  const created = [s.appId];
  for (const i of [0, 1]) {
    created.push((await svix.application.create({ name: `SDK js ${RUN} extra ${i}`, uid: `sdk-js-${RUN}-x${i}` })).id);
  }
  const apps = await pageAll((iterator) => svix.application.list({ limit: 1, iterator }), 1, "application.list");
  exactlyOnce(ids(apps), created, "application.list(limit=1) paged");
  out.app_ids = created;
});

await step("endpoint.create (eventTypes, channels, metadata, throttleRate)", async () => {
  const urlA = `${RECEIVER_URL}/sdk-js/${RUN}/a`;
  const endpoint = await svix.endpoint.create(s.appId, {
    url: urlA,
    description: "endpoint A (filtered)",
    uid: `ep-a-${RUN}`,
    eventTypes: [TYPE_A, TYPE_B],
    channels: [CHANNEL],
    metadata: { team: "a" },
    throttleRate: 100,
  });
  check(endpoint.id.startsWith("ep_"), `endpoint id ${endpoint.id} does not start with ep_`);
  checkEq(endpoint.url, urlA, "EndpointOut.url");
  checkEq(sorted(endpoint.eventTypes), sorted([TYPE_A, TYPE_B]), "EndpointOut.eventTypes");
  checkEq(endpoint.channels, [CHANNEL], "EndpointOut.channels");
  checkEq(endpoint.metadata, { team: "a" }, "EndpointOut.metadata");
  checkEq(endpoint.throttleRate, 100, "EndpointOut.throttleRate");
  const urlB = `${RECEIVER_URL}/sdk-js/${RUN}/b`;
  const other = await svix.endpoint.create(s.appId, { url: urlB, description: "endpoint B (everything)" });
  s.epA = endpoint.id;
  s.epB = other.id;
  Object.assign(out, { endpoint_id: endpoint.id, endpoint_url: urlA, other_endpoint_id: other.id, other_endpoint_url: urlB });
});

await step("endpoint.get / upsert (PUT) / patch", async () => {
  const got = await svix.endpoint.get(s.appId, s.epA);
  checkEq(sorted(got.eventTypes), sorted([TYPE_A, TYPE_B]), "endpoint.get eventTypes");
  checkEq(got.throttleRate, 100, "endpoint.get throttleRate");
  checkEq((await svix.endpoint.get(s.appId, `ep-a-${RUN}`)).id, s.epA, "endpoint.get(uid) id");
  const updated = await svix.endpoint.upsert(s.appId, s.epA, {
    url: out.endpoint_url,
    description: "endpoint A (updated)",
    uid: `ep-a-${RUN}`,
    eventTypes: [TYPE_A, TYPE_B],
    channels: [CHANNEL],
    metadata: { team: "a", stage: "put" },
    throttleRate: 50,
  });
  checkEq(updated.description, "endpoint A (updated)", "endpoint.upsert description");
  checkEq(updated.throttleRate, 50, "endpoint.upsert throttleRate");
  const patched = await svix.endpoint.patch(s.appId, s.epA, { metadata: { team: "a", stage: "patch" } });
  checkEq(patched.metadata, { team: "a", stage: "patch" }, "endpoint.patch metadata");
  checkEq(patched.description, "endpoint A (updated)", "endpoint.patch left description alone");
  checkEq(sorted(patched.eventTypes), sorted([TYPE_A, TYPE_B]), "endpoint.patch left eventTypes alone");
  checkEq(patched.throttleRate, 50, "endpoint.patch left throttleRate alone");
});

await step("endpoint.list paged (limit=1); delete -> 404", async () => {
  const doomed = await svix.endpoint.create(s.appId, { url: `${RECEIVER_URL}/sdk-js/${RUN}/deleted`, disabled: true });
  await svix.endpoint.delete(s.appId, doomed.id);
  await expectStatus(404, "endpoint.get of a deleted endpoint", () => svix.endpoint.get(s.appId, doomed.id));
  const endpoints = await pageAll((iterator) => svix.endpoint.list(s.appId, { limit: 1, iterator }), 1, "endpoint.list");
  exactlyOnce(ids(endpoints), [s.epA, s.epB], "endpoint.list(limit=1) paged");
  checkEq(endpoints.length, 2, "endpoint.list count");
});

await step("endpoint.setHeaders / patchHeaders / getHeaders", async () => {
  await svix.endpoint.setHeaders(s.appId, s.epA, { headers: { "X-Herald-Sdk": "js" } });
  await svix.endpoint.patchHeaders(s.appId, s.epA, { headers: { "X-Herald-Run": RUN } });
  const got = await svix.endpoint.getHeaders(s.appId, s.epA);
  checkEq(lowerKeys(got.headers), { "x-herald-sdk": "js", "x-herald-run": RUN }, "endpoint.getHeaders after set+patch");
  check(Array.isArray(got.sensitive), "EndpointHeadersOut.sensitive is not an array");
  out.custom_headers = { "x-herald-sdk": "js", "x-herald-run": RUN };
});

await step("endpoint.getSecret", async () => {
  const secret = (await svix.endpoint.getSecret(s.appId, s.epA)).key;
  check(secret.startsWith("whsec_"), `secret ${secret} does not start with whsec_`);
  out.secret = secret;
  out.other_secret = (await svix.endpoint.getSecret(s.appId, s.epB)).key;
});

await step("message.create x6 (some with eventId)", async () => {
  const msgIds = [];
  const eventIds = [];
  const types = [TYPE_A, TYPE_B, TYPE_A, TYPE_B, TYPE_A];
  for (const [i, eventType] of types.entries()) {
    const eventId = i % 2 === 0 ? `evt-js-${RUN}-${i}` : undefined;
    const payload = { type: eventType, index: i, run: RUN };
    const withContent = i === 0;
    // Message 1 carries an explicit idempotency key (the SDK makes up `auto_<uuid>` otherwise).
    const message = await svix.message.create(
      s.appId,
      { eventType, payload, channels: [CHANNEL], eventId },
      { withContent: withContent || undefined, idempotencyKey: i === 1 ? `idem-js-${RUN}` : undefined }
    );
    check(message.id.startsWith("msg_"), `message id ${message.id} does not start with msg_`);
    checkEq(message.eventType, eventType, "MessageOut.eventType");
    checkEq(message.eventId ?? undefined, eventId, "MessageOut.eventId");
    check(message.timestamp instanceof Date && !Number.isNaN(message.timestamp.getTime()), "MessageOut.timestamp");
    if (withContent) checkEq(message.payload, payload, "MessageOut.payload (withContent: true)");
    msgIds.push(message.id);
    if (eventId) eventIds.push(eventId);
  }
  s.msgIdsA = [...msgIds];
  const filtered = await svix.message.create(s.appId, { eventType: TYPE_C, payload: { type: TYPE_C, run: RUN } });
  msgIds.push(filtered.id);
  s.msgIds = msgIds;
  s.eventIds = eventIds;
  s.filtered = filtered.id;
  Object.assign(out, {
    msg_ids: msgIds,
    event_ids: eventIds,
    filtered_msg_id: filtered.id,
    msg_ids_for_endpoint: { [s.epA]: s.msgIdsA, [s.epB]: msgIds },
  });
});

await step("message.create repeated eventId -> original message", async () => {
  let again;
  try {
    again = await svix.message.create(s.appId, {
      eventType: TYPE_A,
      payload: { type: TYPE_A, index: 0, run: RUN },
      channels: [CHANNEL],
      eventId: s.eventIds[0],
    });
  } catch (error) {
    throw new CheckFailed(`repeated eventId must return the original message, got ${describe(error)}`);
  }
  checkEq(again.id, s.msgIds[0], `message id for the repeated eventId ${s.eventIds[0]}`);
});

await step("message.create repeated idempotency-key -> original message", async () => {
  const again = await svix.message.create(
    s.appId,
    { eventType: TYPE_B, payload: { type: TYPE_B, index: 1, run: RUN }, channels: [CHANNEL] },
    { idempotencyKey: `idem-js-${RUN}` }
  );
  checkEq(again.id, s.msgIds[1], "message id for a repeated idempotency-key");
});

await step("message.list paged (limit=2)", async () => {
  const messages = await pageAll((iterator) => svix.message.list(s.appId, { limit: 2, iterator }), 2, "message.list");
  exactlyOnce(ids(messages), s.msgIds, "message.list(limit=2) paged");
  checkEq(messages.length, s.msgIds.length, "message.list count (a repeated eventId must not add a message)");
});

await step("message.list eventTypes / channel filters", async () => {
  const byType = await svix.message.list(s.appId, { limit: 50, eventTypes: [TYPE_A, TYPE_C] });
  const types = [TYPE_A, TYPE_B, TYPE_A, TYPE_B, TYPE_A, TYPE_C];
  const expected = s.msgIds.filter((_, i) => types[i] !== TYPE_B);
  checkEq(sorted(ids(byType.data)), sorted(expected), "message.list(eventTypes=[a, c])");
  const byChannel = await svix.message.list(s.appId, { limit: 50, channel: CHANNEL });
  checkEq(sorted(ids(byChannel.data)), sorted(s.msgIdsA), "message.list(channel)");
});

await step("message.get", async () => {
  const message = await svix.message.get(s.appId, s.msgIds[0], { withContent: true });
  checkEq(message.id, s.msgIds[0], "message.get id");
  checkEq(message.eventId, s.eventIds[0], "message.get eventId");
  checkEq(message.payload, { type: TYPE_A, index: 0, run: RUN }, "message.get payload");
  checkEq(message.channels, [CHANNEL], "message.get channels");
});

const successful = (attempts, endpointId) =>
  attempts.filter((a) => a.endpointId === endpointId && Number(a.status) === MessageStatus.Success);

await step("messageAttempt.listByMsg (poll until status 0)", async () => {
  await poll("a successful attempt (status 0) for every message at every matching endpoint", async () => {
    for (const msgId of s.msgIds) {
      const attempts = (await svix.messageAttempt.listByMsg(s.appId, msgId)).data;
      if (successful(attempts, s.epB).length === 0) return false;
      if (s.msgIdsA.includes(msgId) && successful(attempts, s.epA).length === 0) return false;
    }
    return true;
  });
  const attempts = (await svix.messageAttempt.listByMsg(s.appId, s.msgIds[0], { endpointId: s.epA })).data;
  check(attempts.length > 0, "listByMsg(endpointId=A) is empty");
  const first = attempts[0];
  checkEq(first.msgId, s.msgIds[0], "MessageAttemptOut.msgId");
  checkEq(first.endpointId, s.epA, "MessageAttemptOut.endpointId");
  checkEq(first.responseStatusCode, 200, "MessageAttemptOut.responseStatusCode");
  checkEq(first.statusText, "success", "MessageAttemptOut.statusText");
  checkEq(first.triggerType, 0, "MessageAttemptOut.triggerType");
  const filtered = (await svix.messageAttempt.listByMsg(s.appId, s.filtered)).data;
  checkEq(filtered.map((a) => a.endpointId), [s.epB], "endpoints that got the filtered message");
});

await step("messageAttempt.listByEndpoint paged (status=0)", async () => {
  const attempts = await pageAll(
    (iterator) => svix.messageAttempt.listByEndpoint(s.appId, s.epA, { limit: 2, iterator, status: MessageStatus.Success }),
    2,
    "listByEndpoint(status=0)"
  );
  check(attempts.every((a) => a.status === MessageStatus.Success), "listByEndpoint(status=0) returned a non-success attempt");
  checkEq(sorted([...new Set(attempts.map((a) => a.msgId))]), sorted(s.msgIdsA), "messages attempted at endpoint A");
});

await step("messageAttempt.listAttemptedDestinations", async () => {
  const destinations = (await svix.messageAttempt.listAttemptedDestinations(s.appId, s.msgIds[0], { limit: 10 })).data;
  checkEq(sorted(ids(destinations)), sorted([s.epA, s.epB]), "listAttemptedDestinations(msg 0)");
  check(destinations.every((d) => d.status === MessageStatus.Success), "listAttemptedDestinations status is not 0");
  const onlyB = (await svix.messageAttempt.listAttemptedDestinations(s.appId, s.filtered)).data;
  checkEq(ids(onlyB), [s.epB], "listAttemptedDestinations(filtered message)");
});

await step("messageAttempt.listAttemptedMessages paged", async () => {
  const messages = await pageAll(
    (iterator) => svix.messageAttempt.listAttemptedMessages(s.appId, s.epA, { limit: 2, iterator }),
    2,
    "listAttemptedMessages(endpoint A)"
  );
  exactlyOnce(ids(messages), s.msgIdsA, "listAttemptedMessages(endpoint A)");
  checkEq(messages.length, s.msgIdsA.length, "listAttemptedMessages(endpoint A) count");
  check(messages.every((m) => m.status === MessageStatus.Success), "EndpointMessageOut.status is not 0");
});

await step("endpoint.rotateSecret then getSecret", async () => {
  // The JS SDK discards the answer of rotateSecret (any 2xx will do).
  await svix.endpoint.rotateSecret(s.appId, s.epA, {});
  const rotated = (await svix.endpoint.getSecret(s.appId, s.epA)).key;
  check(rotated.startsWith("whsec_"), `rotated key ${rotated} does not start with whsec_`);
  check(rotated !== out.secret, "getSecret after rotateSecret returned the old secret");
  out.rotated_secret = rotated;
});

await step("messageAttempt.resend", async () => {
  const msgId = s.msgIds[0];
  await svix.messageAttempt.resend(s.appId, msgId, s.epA);
  const attempts = await poll("a second successful attempt after resend", async () => {
    const found = (await svix.messageAttempt.listByMsg(s.appId, msgId, { endpointId: s.epA })).data;
    return successful(found, s.epA).length >= 2 ? found : null;
  });
  check(attempts.some((a) => a.triggerType === 1), "no attempt with triggerType 1 (manual) after resend");
  out.resent_msg_id = msgId;
});

await step("endpoint.recover", async () => {
  const task = await svix.endpoint.recover(s.appId, s.epA, { since: new Date(Date.now() - 3600_000) });
  check(task.id, "RecoverOut.id is empty");
  checkEq(task.task, "endpoint.recover", "RecoverOut.task");
  check(["running", "finished"].includes(task.status), `RecoverOut.status ${task.status}`);
});

await step("endpoint.replayMissing / bulkReplay", async () => {
  // Nothing failed and nothing was missed on epA: both tasks finish at once.
  const since = new Date(Date.now() - 3600_000);
  const missing = await svix.endpoint.replayMissing(s.appId, s.epA, { since });
  checkEq(missing.task, "endpoint.replay", "ReplayOut.task (replayMissing)");
  checkEq(missing.status, "finished", "ReplayOut.status (replayMissing)");
  const bulk = await svix.endpoint.bulkReplay(s.appId, s.epA, { since, status: 2, statusCodeClass: 500 });
  checkEq(bulk.task, "endpoint.bulk-replay", "ReplayOut.task (bulkReplay)");
  checkEq(bulk.status, "finished", "ReplayOut.status (bulkReplay)");
});

await step("endpoint.getStats", async () => {
  const stats = await svix.endpoint.getStats(s.appId, s.epA, { since: new Date(Date.now() - 3600_000) });
  check(stats.success >= s.msgIdsA.length, `stats.success ${stats.success} < ${s.msgIdsA.length}`);
  checkEq(stats.fail, 0, "stats.fail");
});

await step("eventType.list / get / upsert / patch / delete", async () => {
  const listed = await pageAll((iterator) => svix.eventType.list({ limit: 2, iterator }), 2, "eventType.list");
  exactlyOnce(
    listed.map((e) => e.name),
    [TYPE_A, TYPE_B, TYPE_C, TYPE_DEL],
    "eventType.list(limit=2) paged"
  );
  checkEq((await svix.eventType.get(TYPE_A)).description, "A user was created", "eventType.get description");
  const updated = await svix.eventType.upsert(TYPE_A, { description: "A user was created (js)" });
  checkEq(updated.description, "A user was created (js)", "eventType.upsert description");
  const patched = await svix.eventType.patch(TYPE_B, { description: "A user was updated (patched)" });
  checkEq(patched.description, "A user was updated (patched)", "eventType.patch description");
  await svix.eventType.delete(TYPE_DEL);
  const remaining = (await svix.eventType.list({ limit: 250 })).data.map((e) => e.name);
  check(!remaining.includes(TYPE_DEL), "a deleted event type is still listed without includeArchived");
});

log(`[${NAME}] ${passed.length} passed, ${failed.length} failed`);
for (const [title, detail] of failed) log(`[${NAME}]   failed: ${title}: ${detail}`);
const keys = Object.keys(out).sort();
console.log(JSON.stringify(Object.fromEntries(keys.map((k) => [k, out[k]]))));
process.exit(failed.length ? 1 : 0);
