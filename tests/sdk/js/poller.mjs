// Reads a Herald polling endpoint with the official JavaScript SDK (npm `svix`, pinned
// in package.json), through `svix.message.poller` only: poll, consumerPoll, consumerSeek.
// The same reads as tests/sdk/python/sdk_poller.py.
//
//   node poller.mjs
//
// Environment: HERALD_SDK_SERVER_URL, HERALD_SDK_TOKEN, HERALD_SDK_APP_ID,
// HERALD_SDK_POLLER_ID, HERALD_SDK_EXPECTED (JSON {"ids", "seek_after", "after_seek"}).
// Prints one JSON line: the ids each read returned.

import { randomUUID } from "node:crypto";

import { Svix } from "svix";

const NAME = "js-svix-poller";

function log(...args) {
  process.stderr.write(`${args.join(" ")}\n`);
}

function env(name) {
  const value = process.env[name];
  if (!value) {
    log(`error: environment variable ${name} is not set`);
    process.exit(2);
  }
  return value;
}

class CheckFailed extends Error {
  name = "CheckFailed";
}

function check(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

function checkEq(actual, expected, what) {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new CheckFailed(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

const APP = env("HERALD_SDK_APP_ID");
const POLLER = env("HERALD_SDK_POLLER_ID");
const EXPECTED = JSON.parse(env("HERALD_SDK_EXPECTED"));
const SEEK_AFTER = new Date(EXPECTED.seek_after);
const CONSUMER = `consumer-${randomUUID().slice(0, 12)}`;
const poller = new Svix(env("HERALD_SDK_TOKEN"), { serverUrl: env("HERALD_SDK_SERVER_URL") }).message.poller;
const out = { sdk: NAME };
let failures = 0;

async function step(title, fn) {
  try {
    await fn();
    log(`[${NAME}] ok   ${title}`);
  } catch (error) {
    failures += 1;
    const status = typeof error?.code === "number" ? ` status=${error.code} body=${JSON.stringify(error.body)}` : "";
    log(`[${NAME}] FAIL ${title}: ${error?.message ?? error}${status}`);
  }
}

const ids = (page) => page.data.map((m) => m.id);

await step("poll pages through every message", async () => {
  const seen = [];
  let iterator;
  for (let n = 0; n < 100; n += 1) {
    const page = await poller.poll(APP, POLLER, { limit: 2, iterator });
    check(page.data.length <= 2, `a page of ${page.data.length} with limit 2`);
    seen.push(...ids(page));
    iterator = page.iterator;
    if (page.done) break;
  }
  checkEq(seen, EXPECTED.ids, "poll: every message the poller shows, in order");
  const again = await poller.poll(APP, POLLER, { iterator });
  checkEq(ids(again), [], "poll from the last iterator: nothing new");
  const first = (await poller.poll(APP, POLLER, { limit: 1 })).data[0];
  checkEq(first.eventType, "poll.a", "a message's eventType");
  check(first.timestamp instanceof Date, "a message's timestamp is a Date");
  out.poll_ids = seen;
});

await step("consumerPoll reads at least once and commits with the iterator", async () => {
  const first = await poller.consumerPoll(APP, POLLER, CONSUMER, { limit: 2 });
  checkEq(ids(first), EXPECTED.ids.slice(0, 2), "a new consumer starts at the beginning");
  const again = await poller.consumerPoll(APP, POLLER, CONSUMER, { limit: 2 });
  checkEq(ids(again), EXPECTED.ids.slice(0, 2), "an uncommitted batch is read again");
  const seen = ids(again);
  let iterator = again.iterator;
  for (;;) {
    const page = await poller.consumerPoll(APP, POLLER, CONSUMER, { limit: 2, iterator });
    seen.push(...ids(page));
    iterator = page.iterator;
    if (page.done && page.data.length === 0) break;
  }
  checkEq(seen, EXPECTED.ids, "the consumer reads every message once after the first batch");
  checkEq(ids(await poller.consumerPoll(APP, POLLER, CONSUMER, {})), [], "resumes at the end");
  out.consumer_ids = seen;
});

await step("consumerSeek and poll({after}) start at a time", async () => {
  const seeked = await poller.consumerSeek(APP, POLLER, CONSUMER, { after: SEEK_AFTER });
  check(seeked.iterator, "seek returns an iterator");
  const page = await poller.consumerPoll(APP, POLLER, CONSUMER, { limit: 50 });
  checkEq(ids(page), EXPECTED.after_seek, "after a seek: the messages created after it");
  out.seek_ids = ids(page);
});

await step("a forged iterator is refused", async () => {
  try {
    await poller.poll(APP, POLLER, { iterator: "bm90LWFuLWl0ZXJhdG9y" });
  } catch (error) {
    checkEq(error?.code, 422, "a forged iterator's status");
    return;
  }
  throw new CheckFailed("a forged iterator was accepted");
});

log(`[${NAME}] ${failures ? `${failures} failed` : "all passed"}`);
console.log(JSON.stringify(out));
process.exit(failures ? 1 : 0);
