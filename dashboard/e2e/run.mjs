#!/usr/bin/env node
// End-to-end test of the dashboard against a real Herald, in Debian's Chromium.
//
//   HERALD_BIN=/path/to/herald [HERALD_TEST_REDIS_URL=redis://127.0.0.1:6379] npm run e2e
//
// Starts a receiver (an HTTP server on 127.0.0.1 that can be switched to answer 500,
// 503 with a Retry-After, or another status such as 404),
// `herald serve` in a temporary directory (SQLite, its own Redis prefix, retries
// 0s,1s,1s without jitter, the dashboard from ../dist), creates a tenant with
// `herald tenant create`, and then drives the browser as an operator and as a
// customer with a portal link made on the application screen, and checks the
// Overview after failures, down to the log of the messages that failed. Along the
// way: a keyboard-only walk to an application, channels and a rate limit in the
// endpoint form, the log filtered by event type and time, and a bulk DLQ replay.
// Screenshots of the main screens go to docs/screenshots/. Exits non-zero on the first failure; always stops Herald,
// the receiver and the browser.
//
// Needs `npm run build` first (dist/), and Chromium at /usr/bin/chromium
// (`apt-get install -y chromium`); playwright-core drives it, no browser download.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { deleteKeysWithPrefix } from './redisCleanup.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const dashboardDir = path.resolve(here, '..');
const distDir = path.join(dashboardDir, 'dist');
const screenshotDir = path.resolve(dashboardDir, '..', 'docs', 'screenshots');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const redisUrl = process.env.HERALD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const heraldBin = process.env.HERALD_BIN;
const WAIT = 30_000;
const redisPrefix = `e2e-dash-${Math.random().toString(36).slice(2, 10)}`;

const cleanups = [];
let heraldLog = null;
/** Screenshots every open page when the test fails (set once the browser runs). */
let failureShots = async () => {};

function log(...args) {
  console.log(`[e2e ${new Date().toISOString().slice(11, 23)}]`, ...args);
}

class Failure extends Error {}

function check(condition, message) {
  if (!condition) throw new Failure(message);
}

async function eventually(what, probe, timeoutMs = WAIT, intervalMs = 250) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Failure(`timed out waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// ------------------------------------------------------------------ receiver

async function startReceiver() {
  // `retryAfter` (seconds) turns the failures into 503s that ask Herald to wait that long;
  // `failStatus` answers that status instead (a 404 is retried but does not trip the breaker).
  const state = { failing: false, retryAfter: null, failStatus: null, requests: [] };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const asksToWait = state.failing && state.retryAfter !== null;
      const status = state.failing ? (asksToWait ? 503 : (state.failStatus ?? 500)) : 200;
      state.requests.push({ at: Date.now(), path: req.url, headers: req.headers, body, status });
      res.writeHead(status, {
        'content-type': 'application/json',
        'x-receiver': 'e2e',
        ...(asksToWait ? { 'retry-after': String(state.retryAfter) } : {}),
      });
      res.end(JSON.stringify(state.failing ? { error: 'receiver switched to fail' } : { ok: true }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
  server.closeAllConnections && cleanups.push(() => server.closeAllConnections());
  log(`receiver on 127.0.0.1:${port}`);
  return { state, url: `http://127.0.0.1:${port}/hooks/acme` };
}

// ------------------------------------------------------------------ herald

function heraldEnv(tmp, port) {
  // Herald refuses unknown HERALD_* settings, and this script's own inputs
  // (HERALD_BIN, HERALD_TEST_REDIS_URL) are named like them: pass none through.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('HERALD_')));
  return {
    ...inherited,
    HERALD_LISTEN: `127.0.0.1:${port}`,
    HERALD_DATABASE_URL: `sqlite://${tmp}/herald.db?mode=rwc`,
    HERALD_REDIS_URL: redisUrl,
    HERALD_REDIS_PREFIX: redisPrefix,
    HERALD_ALLOW_PRIVATE_TARGETS: 'true',
    HERALD_RETRY_SCHEDULE: '0s,1s,1s',
    HERALD_RETRY_JITTER: '0',
    HERALD_DASHBOARD_DIR: distDir,
    // The Prometheus listener defaults to a fixed port; parallel runs would clash on it.
    HERALD_METRICS_LISTEN: '127.0.0.1:0',
  };
}

async function startHerald(tmp) {
  const port = await freePort();
  const env = heraldEnv(tmp, port);
  heraldLog = path.join(tmp, 'herald.log');
  const out = fs.openSync(heraldLog, 'a');
  const child = spawn(heraldBin, ['serve'], { cwd: tmp, env, stdio: ['ignore', out, out] });
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = { code, signal };
  });
  cleanups.push(async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await once(child, 'exit').catch(() => undefined);
    clearTimeout(timer);
  });
  const base = `http://127.0.0.1:${port}`;
  await eventually(
    'herald to answer /api/v1/health/ping',
    async () => {
      if (exited) throw new Failure(`herald exited early (${JSON.stringify(exited)})`);
      const res = await fetch(`${base}/api/v1/health/ping`);
      return res.ok;
    },
    60_000,
  );
  log(`herald serve on ${base} (pid ${child.pid})`);
  return { base, env };
}

async function createTenant(tmp, env) {
  const child = spawn(heraldBin, ['tenant', 'create', 'E2E'], { cwd: tmp, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const [code] = await once(child, 'exit');
  check(code === 0, `herald tenant create failed (${code}): ${stderr}`);
  const lines = stdout.trim().split('\n');
  const key = lines[lines.length - 1].trim();
  check(key.length > 0 && !key.includes(' '), `no API key on the last line of: ${stdout}`);
  return key;
}

function apiClient(base, token) {
  return async function call(method, route, body) {
    const res = await fetch(`${base}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    const json = text ? JSON.parse(text) : null;
    if (!res.ok) {
      const error = new Failure(`${method} ${route} → ${res.status}: ${text}`);
      error.status = res.status;
      throw error;
    }
    return json;
  };
}

// ------------------------------------------------------------------ browser helpers

async function shot(page, name) {
  fs.mkdirSync(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  log(`screenshot ${path.relative(process.cwd(), file)}`);
}

/** Presses Tab until `locator` has the focus: proof that the keyboard reaches it. */
async function tabTo(page, locator, what, maxPresses = 80) {
  const target = await locator.elementHandle();
  for (let presses = 0; presses < maxPresses; presses += 1) {
    await page.keyboard.press('Tab');
    if (await target.evaluate((element) => element === document.activeElement)) return;
  }
  throw new Failure(`${what} is not reached with Tab in ${maxPresses} presses`);
}

async function noHorizontalOverflow(page, what) {
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  check(scroll <= client + 1, `${what}: the page scrolls sideways (${scroll}px content in ${client}px)`);
}

// ------------------------------------------------------------------ the test

async function main() {
  check(heraldBin, 'set HERALD_BIN to the path of a herald binary');
  check(fs.existsSync(heraldBin), `HERALD_BIN does not exist: ${heraldBin}`);
  check(fs.existsSync(path.join(distDir, 'index.html')), `no ${distDir}/index.html: run \`npm run build\` first`);
  check(fs.existsSync(chromiumPath), `no Chromium at ${chromiumPath} (apt-get install -y chromium)`);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-e2e-dash-'));
  cleanups.push(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const receiver = await startReceiver();
  // Registered before Herald so that it runs after Herald has stopped.
  cleanups.push(async () => {
    const deleted = await deleteKeysWithPrefix(redisUrl, `${redisPrefix}:`);
    log(`deleted ${deleted} Redis keys of ${redisPrefix}`);
  });
  const { base, env } = await startHerald(tmp);
  const apiKey = await createTenant(tmp, env);
  log('tenant created');
  const api = apiClient(base, apiKey);

  // The dashboard is served at / and client routes fall back to index.html.
  for (const route of ['/', '/apps/anything/messages/x', '/portal']) {
    const res = await fetch(`${base}${route}`);
    const html = await res.text();
    check(res.ok && html.includes('<div id="root">'), `herald does not serve the dashboard at ${route} (${res.status})`);
  }

  const acme = await api('POST', '/api/v1/app', { name: 'Acme Corp', uid: 'acme' });
  const other = await api('POST', '/api/v1/app', { name: 'Other Co', uid: 'other-co' });
  await api('POST', '/api/v1/event-type', { name: 'invoice.paid', description: 'An invoice was paid' });

  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-e2e-chromium-'));
  cleanups.push(() => fs.rmSync(userDataDir, { recursive: true, force: true }));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  // Cleanups run last-in first-out: the browser closes before its profile is removed.
  cleanups.push(() => context.close());
  failureShots = async () => {
    for (const [index, open] of context.pages().entries()) {
      const file = path.join(os.tmpdir(), `herald-e2e-dash-failure-${index}.png`);
      await open.screenshot({ path: file, fullPage: true }).catch(() => undefined);
      console.error(`[e2e] page ${index} at ${open.url()} → ${file}`);
    }
  };
  context.setDefaultTimeout(WAIT);
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));

  // --- sign in as the operator
  await page.goto(`${base}/`);
  await page.waitForURL(/\/signin/);
  await shot(page, '01-sign-in');
  await page.getByLabel('Tenant API key').fill('sk_wrong');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Herald did not accept this API key.').waitFor();
  await page.getByLabel('Tenant API key').fill(apiKey);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/overview$/);
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  await page.getByText('0 deliveries failed in the last hour').waitFor();
  await page.getByText('No application had a failed attempt in the last hour').waitFor();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Applications' }).click();
  await page.waitForURL(/\/apps$/);
  await page.getByRole('link', { name: 'Acme Corp' }).waitFor();
  await page.getByRole('link', { name: 'Other Co' }).waitFor();
  // Herald searches (name or uid containing the text, ignoring case, or the id); the
  // box waits for a pause in the typing and keeps the search in the address bar.
  const appRows = page.getByRole('table', { name: 'Applications' }).locator('tbody tr');
  const listedApps = () => appRows.evaluateAll((rows) => rows.map((row) => row.getAttribute('data-app-id')));
  await page.getByLabel('Search applications').pressSequentially('ME COR', { delay: 40 });
  await page.waitForURL(/\/apps\?q=ME\+COR$/);
  await eventually('the search for a fragment of a name to list Acme alone', async () => JSON.stringify(await listedApps()) === JSON.stringify([acme.id]));
  await page.reload();
  check((await page.getByLabel('Search applications').inputValue()) === 'ME COR', 'the search box lost the search after a reload');
  await eventually('the reloaded search to list Acme alone', async () => JSON.stringify(await listedApps()) === JSON.stringify([acme.id]));
  await shot(page, '02-applications');
  await page.getByLabel('Search applications').fill(other.id);
  await page.waitForURL(new RegExp(`/apps\\?q=${other.id}$`));
  await eventually('the search by id to list Other Co alone', async () => JSON.stringify(await listedApps()) === JSON.stringify([other.id]));
  await page.getByLabel('Search applications').fill('no such application');
  await page.getByText('No application\'s name, uid or id matches “no such application”.').waitFor();
  await page.getByLabel('Search applications').fill('');
  await page.waitForURL(/\/apps$/);
  await page.getByRole('link', { name: 'Other Co' }).waitFor();
  log('signed in; applications listed and searched by Herald (name fragment, id, none), the search kept in the address bar');

  // --- the keyboard alone: the first Tab reaches the skip link, Enter moves the focus
  // to the content, and a few more Tabs reach Acme in the list; Enter opens it.
  await page.goto(`${base}/apps`);
  await page.getByRole('link', { name: 'Acme Corp' }).waitFor();
  const focused = () =>
    page.evaluate(() => {
      const element = document.activeElement;
      const style = getComputedStyle(element);
      return {
        id: element.id,
        text: element.textContent.trim(),
        visible: element.matches(':focus-visible') && style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0,
        onScreen: element.getBoundingClientRect().left >= 0,
      };
    });
  await page.keyboard.press('Tab');
  const skip = await focused();
  check(skip.text === 'Skip to content' && skip.visible && skip.onScreen, `the first Tab does not show the skip link: ${JSON.stringify(skip)}`);
  await page.keyboard.press('Enter');
  await eventually('the skip link to move the focus to the content', async () => (await focused()).id === 'main');
  await tabTo(page, page.getByRole('link', { name: 'Acme Corp' }), 'Acme in the applications list', 10);
  const acmeLink = await focused();
  check(acmeLink.text === 'Acme Corp' && acmeLink.visible, `the focused Acme link shows no focus ring: ${JSON.stringify(acmeLink)}`);
  await page.keyboard.press('Enter');
  await page.waitForURL(new RegExp(`/apps/${acme.id}$`));
  log('keyboard: skip link, then Tab to Acme in the list (focus ring visible), Enter opens it');

  // --- create an endpoint through the UI
  await page.getByRole('heading', { name: 'Acme Corp' }).waitFor();
  await page.getByRole('link', { name: 'Add endpoint' }).click();
  await page.getByLabel('URL', { exact: true }).fill(receiver.url);
  await page.getByLabel('Description').fill('Acme production receiver');
  await page.getByRole('checkbox', { name: 'invoice.paid' }).check();
  await page.getByRole('button', { name: 'Create endpoint' }).click();
  await page.waitForURL(/\/endpoints\/ep_/);
  const endpointId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
  await page.getByRole('heading', { name: receiver.url }).waitFor();
  log(`endpoint ${endpointId} created in the UI`);

  // --- a message appears in the live log as delivered
  await page.goto(`${base}/apps/${acme.id}?endpoint=${encodeURIComponent(endpointId)}`);
  await page.getByRole('table', { name: 'Messages' }).or(page.getByText('No messages')).first().waitFor();
  const longText = 'lorem-ipsum-'.repeat(300);
  const msg1 = await api('POST', `/api/v1/app/${acme.id}/msg`, {
    eventType: 'invoice.paid',
    eventId: 'evt-e2e-1',
    tags: ['e2e-vip'],
    payload: { invoice: 'in_1', amount: 4200, note: longText, link: `https://example.com/${'a'.repeat(400)}` },
  });
  const row1 = page.locator(`tr[data-msg-id="${msg1.id}"]`);
  await row1.filter({ hasText: 'Succeeded' }).waitFor();
  check(receiver.state.requests.some((r) => r.headers['webhook-id'] === msg1.id && r.status === 200), 'the receiver did not get the first message');
  await shot(page, '03-message-log');
  log('message 1 appeared live as delivered');

  // --- find by eventId
  await page.getByLabel('Message id or eventId').fill('evt-e2e-1');
  await page.getByRole('button', { name: 'Find' }).click();
  await page.waitForURL(new RegExp(`/messages/${msg1.id}$`));
  await page.getByText('"invoice": "in_1"').waitFor();
  check((await page.locator('dt', { hasText: 'Ordering key' }).count()) === 0, 'a message without an ordering key shows one');
  log('found the message by eventId');

  // --- failures, attempts, the next retry time and the schedule ahead. The receiver
  // answers 503 with Retry-After: 5, so each retry waits 5 s (the schedule says 1 s)
  // and the planned attempts stay on screen long enough to be read.
  receiver.state.failing = true;
  receiver.state.retryAfter = 5;
  const msg2 = await api('POST', `/api/v1/app/${acme.id}/msg`, { eventType: 'invoice.paid', payload: { invoice: 'in_2' } });
  await page.goto(`${base}/apps/${acme.id}/messages/${msg2.id}`);
  const delivery = page.locator(`li.delivery[data-endpoint-id="${endpointId}"]`);
  const upcoming = delivery.getByRole('group', { name: 'Upcoming attempts' });
  // After the first failure: attempt 2 in about 5 s, then attempt 3 one second after it.
  await upcoming.getByText(/^Next attempt \d\d:\d\d:\d\d \((in \d+ s|due now)\)$/).waitFor();
  await upcoming.getByText(/^Then \d\d:\d\d:\d\d if it keeps failing\./).waitFor();
  await upcoming.getByText(/Times are approximate/).waitFor();
  const planned = (await api('GET', `/api/v1/app/${acme.id}/msg/${msg2.id}/endpoint`)).data.find((d) => d.id === endpointId);
  check(
    planned && planned.upcomingAttempts.length >= 1 && planned.upcomingAttempts[0] === planned.nextAttempt,
    `unexpected upcomingAttempts while retrying: ${JSON.stringify(planned)}`,
  );
  await shot(page, '04a-message-retrying');
  // After the second: the third is the last.
  await upcoming.getByText('The last attempt: a dead letter if it fails.').waitFor();
  await eventually('three failed attempts of message 2', async () => (await delivery.locator('li.attempt').filter({ hasText: 'Failed' }).count()) >= 3);
  await delivery.getByText(/retry was scheduled for \d\d:\d\d:\d\d|next retry in/).first().waitFor();
  await delivery.locator('.delivery-head .badge', { hasText: 'Failed' }).waitFor();
  await upcoming.waitFor({ state: 'detached' });
  const firstAttempt = delivery.locator('li.attempt').first();
  await firstAttempt.locator('summary').click();
  await firstAttempt.getByText('receiver switched to fail').waitFor();
  await firstAttempt.getByRole('table', { name: 'Request headers' }).getByText(/^webhook-signature$/i).waitFor();
  await firstAttempt.getByRole('table', { name: 'Response headers' }).getByText(/^x-receiver$/i).waitFor();
  await firstAttempt.locator('.outcome').getByText('HTTP error status', { exact: true }).waitFor();
  await firstAttempt.getByTitle('Response status').filter({ hasText: /^503$/ }).waitFor();
  receiver.state.retryAfter = null;
  log('failed attempts, their response body, the next retry time and the attempts planned while retrying are shown');

  // --- the log filtered to failed deliveries, without choosing an endpoint
  await page.goto(`${base}/apps/${acme.id}`);
  await page.locator('details.filters > summary').click();
  await page.getByLabel('Delivery status').selectOption('2');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL(new RegExp(`/apps/${acme.id}\\?status=2$`));
  await page.locator(`tr[data-msg-id="${msg2.id}"]`).waitFor();
  await eventually('the failed filter to leave out the delivered message', async () => (await page.locator('tr[data-msg-id]').count()) === 1);
  check((await page.getByText('Not applied with this combination').count()) === 0, 'the log says the status filter was not applied');
  log('the message log filters by failed without an endpoint');

  // --- the endpoint's log honours the tag too (only message 1 carries it)
  await page.goto(`${base}/apps/${acme.id}?endpoint=${encodeURIComponent(endpointId)}&tag=e2e-vip`);
  await page.locator(`tr[data-msg-id="${msg1.id}"]`).filter({ hasText: 'Succeeded' }).waitFor();
  await eventually('the tag filter with an endpoint to list message 1 alone', async () => (await page.locator('tr[data-msg-id]').count()) === 1);
  check((await page.getByText('Not applied with this combination').count()) === 0, 'the log says the tag was not applied with an endpoint');
  check(!(await page.getByLabel('Tag').isDisabled()), 'the tag field is disabled with an endpoint');
  await page.goto(`${base}/apps/${acme.id}/messages/${msg2.id}`);
  log('the endpoint\'s message log filters by tag');

  // --- replay after the receiver recovers
  receiver.state.failing = false;
  await delivery.getByRole('button', { name: `Replay to ${receiver.url}` }).click();
  await delivery.locator('li.attempt').filter({ hasText: 'Manual' }).filter({ hasText: 'Succeeded' }).first().waitFor();
  await delivery.locator('.delivery-head .badge', { hasText: 'Succeeded' }).waitFor();
  await shot(page, '04-message-detail');
  log('replay produced a new successful attempt');

  // --- the endpoint screen: health, secret, attempts
  await page.goto(`${base}/apps/${acme.id}/endpoints/${endpointId}`);
  await page.getByRole('heading', { name: 'Health (last 28 days)' }).waitFor();
  await page.getByText('Circuit breaker').waitFor();
  await page.getByRole('button', { name: 'Reveal' }).click();
  await page.getByText(/^whsec_[A-Za-z0-9+/=]{20,}$/).waitFor();
  await page.getByRole('table', { name: 'Attempts' }).waitFor();
  await page.locator('.fact').filter({ hasText: 'Ordered delivery' }).getByText('Off', { exact: true }).waitFor();
  const health = page.locator('#health');
  // Message 1 and message 2 (replayed) succeeded, nothing was dead-lettered for good.
  await health.getByText(/^Success rate: \d+(\.\d)?%/).waitFor();
  await health.getByText(/^Latency: median \d/).waitFor();
  await health.getByRole('heading', { name: 'Recent errors' }).waitFor();
  await health.locator('.recent-errors').getByRole('link', { name: msg2.id }).first().waitFor();
  await shot(page, '05-endpoint');
  log('endpoint screen shows health (success rate, breaker, latency, recent errors), the secret and attempts');

  // --- replay one attempt from the endpoint's attempts: a new manual attempt succeeds
  const attemptsTable = page.getByRole('table', { name: 'Attempts' });
  const msg2Delivered = () => receiver.state.requests.filter((r) => r.headers['webhook-id'] === msg2.id && r.status === 200).length;
  const deliveredBefore = msg2Delivered();
  const failedAttemptRow = attemptsTable.locator(`tr[data-msg-id="${msg2.id}"]`).filter({ hasText: 'Failed' }).first();
  await failedAttemptRow.getByRole('button', { name: /^Replay attempt #\d+ of / }).click();
  await failedAttemptRow.getByText('queued').waitFor();
  await eventually('the replayed attempt to reach the receiver', async () => msg2Delivered() === deliveredBefore + 1);
  await eventually(
    'a second manual, successful attempt of message 2 in the table',
    async () => (await attemptsTable.locator(`tr[data-msg-id="${msg2.id}"]`).filter({ hasText: 'Manual' }).filter({ hasText: 'Succeeded' }).count()) >= 2,
  );
  log('an attempt replayed from the endpoint screen made a new successful attempt');

  // --- disable and enable again
  const endpointBadge = page.locator('.page-head .badge');
  await page.getByRole('button', { name: 'Disable' }).click();
  await endpointBadge.filter({ hasText: 'Disabled' }).waitFor();
  check((await api('GET', `/api/v1/app/${acme.id}/endpoint/${endpointId}`)).disabled === true, 'the endpoint is not disabled in the API');
  await page.getByRole('button', { name: 'Enable' }).click();
  await endpointBadge.filter({ hasText: 'Enabled' }).waitFor();
  check((await api('GET', `/api/v1/app/${acme.id}/endpoint/${endpointId}`)).disabled === false, 'the endpoint is not enabled again in the API');

  // --- rotate the secret: the new one is shown and is the API's
  const secretBefore = (await api('GET', `/api/v1/app/${acme.id}/endpoint/${endpointId}/secret`)).key;
  page.once('dialog', (dialog) => dialog.accept());
  await page.getByRole('button', { name: 'Rotate secret' }).click();
  await page.getByText(/^Rotated\. The previous secret keeps signing for 24 h\.$/).waitFor();
  const secretAfter = (await api('GET', `/api/v1/app/${acme.id}/endpoint/${endpointId}/secret`)).key;
  check(secretAfter !== secretBefore, 'rotating did not change the secret');
  await page.locator('#secret').getByText(secretAfter, { exact: true }).waitFor();
  log('endpoint disabled and enabled again; secret rotated and shown');

  // --- edit the endpoint
  await page.getByRole('link', { name: 'Edit' }).click();
  await page.getByLabel('Description').fill('Acme production receiver (edited)');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(new RegExp(`/endpoints/${endpointId}$`));
  await page.getByText('Acme production receiver (edited)').waitFor();
  log('endpoint edited in the UI');

  // --- custom headers, then a test event that carries them
  await page.getByRole('button', { name: 'Add header' }).click();
  await page.getByLabel('Header name 1').fill('X-Acme-Tenant');
  await page.getByLabel('Header value 1').fill('acme-42');
  await page.getByRole('button', { name: 'Save headers' }).click();
  await page.getByText('Headers saved.').waitFor();
  const headers = await api('GET', `/api/v1/app/${acme.id}/endpoint/${endpointId}/headers`);
  check(headers.headers['X-Acme-Tenant'] === 'acme-42' || headers.headers['x-acme-tenant'] === 'acme-42', `headers not saved: ${JSON.stringify(headers)}`);
  await page.getByRole('button', { name: 'Send test event' }).click();
  const sentLink = page.locator('.notice', { hasText: 'Sent as' }).getByRole('link');
  await sentLink.waitFor();
  const exampleId = (await sentLink.textContent()).trim();
  await eventually('the test event with the custom header at the receiver', async () =>
    receiver.state.requests.some((r) => r.headers['webhook-id'] === exampleId && r.headers['x-acme-tenant'] === 'acme-42'),
  );
  log('custom headers saved; test event delivered with them');

  // --- recover failed since…
  receiver.state.failing = true;
  const msgRecover = await api('POST', `/api/v1/app/${acme.id}/msg`, { eventType: 'invoice.paid', payload: { invoice: 'in_recover' } });
  await eventually('the message to recover to be dead-lettered', async () => {
    const list = await api('GET', `/api/v1/app/${acme.id}/dead-letter?endpoint_id=${endpointId}`);
    return list.data.some((entry) => entry.msgId === msgRecover.id);
  });
  receiver.state.failing = false;
  await page.getByRole('button', { name: 'Recover' }).click();
  await page.getByText('1 failed delivery is being restarted at the endpoint’s pace.').waitFor();
  await eventually('the recovered message at the receiver', async () =>
    receiver.state.requests.some((r) => r.headers['webhook-id'] === msgRecover.id && r.status === 200),
  );
  log('recover restarted the dead-lettered delivery');

  // --- an ordered endpoint made in the form; two messages of one key arrive in sequence.
  // It receives every event type, so it is deleted before the failures below would reach it.
  await page.goto(`${base}/apps/${acme.id}/endpoints/new`);
  const orderedUrl = receiver.url.replace(/acme$/, 'acme-ordered');
  await page.getByLabel('URL', { exact: true }).fill(orderedUrl);
  await page.getByRole('checkbox', { name: 'Ordered delivery' }).check();
  await page.getByRole('button', { name: 'Create endpoint' }).click();
  await page.waitForURL(/\/endpoints\/ep_/);
  const orderedId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
  await page.getByRole('heading', { name: orderedUrl }).waitFor();
  await page.locator('.fact').filter({ hasText: 'Ordered delivery' }).getByText('On', { exact: true }).waitFor();
  const orderedOut = await api('GET', `/api/v1/app/${acme.id}/endpoint/${orderedId}`);
  check(orderedOut.ordered === true, `the endpoint created with ordered delivery has ordered=${orderedOut.ordered}`);
  const keyed = [];
  for (const n of [1, 2]) {
    keyed.push(await api('POST', `/api/v1/app/${acme.id}/msg`, { eventType: 'order.shipped', orderingKey: 'cart-42', payload: { n } }));
  }
  const keyedRequests = await eventually('both keyed messages at the ordered endpoint', async () => {
    const found = keyed.map((m) => receiver.state.requests.find((r) => r.headers['webhook-id'] === m.id && r.path.endsWith('/acme-ordered')));
    return found.every(Boolean) ? found : null;
  });
  check(
    keyedRequests.every((r, i) => r.headers['herald-ordering-key'] === 'cart-42' && r.headers['herald-sequence'] === String(i + 1)),
    `unexpected ordering headers: ${JSON.stringify(keyedRequests.map((r) => [r.headers['herald-ordering-key'], r.headers['herald-sequence']]))}`,
  );
  await page.goto(`${base}/apps/${acme.id}/messages/${keyed[1].id}`);
  await page.locator('.fact').filter({ hasText: 'Ordering key' }).getByText('cart-42', { exact: true }).waitFor();
  await api('DELETE', `/api/v1/app/${acme.id}/endpoint/${orderedId}`);
  log('an ordered endpoint created in the form; keyed messages carry the key and sequence 1, 2');

  // A scheduled message shows when it goes, and the tenant cancels it from its page.
  const deliverAt = new Date(Date.now() + 10 * 60_000).toISOString();
  const scheduled = await api('POST', `/api/v1/app/${acme.id}/msg`, { eventType: 'invoice.paid', payload: { invoice: 'in_later' }, deliverAt });
  await page.goto(`${base}/apps/${acme.id}/messages/${scheduled.id}`);
  await page.locator('.fact').filter({ hasText: 'Scheduled for' }).waitFor();
  await page.getByText(/Scheduled: delivered in \d+ min/).waitFor();
  await page.getByRole('button', { name: 'Cancel delivery' }).click();
  await page.getByText(/^Canceled: \d+ deliver(y|ies) will not be made\.$/).waitFor();
  const calledOff = (await api('GET', `/api/v1/app/${acme.id}/msg/${scheduled.id}/endpoint`)).data;
  check(calledOff.length > 0 && calledOff.every((d) => d.nextAttempt == null), `a canceled message still has due deliveries: ${JSON.stringify(calledOff)}`);
  log('a scheduled message shows when it goes and is canceled from its page');

  // Retention: a message shows how long its payload and itself are kept, and an
  // expunged payload reads as expunged, not as an empty object.
  await page.locator('.fact').filter({ hasText: 'Payload kept until' }).waitFor();
  await page.locator('.fact').filter({ hasText: 'Deleted on' }).waitFor();
  await api('DELETE', `/api/v1/app/${acme.id}/msg/${scheduled.id}/content`);
  await page.reload();
  await page.getByText(/^Payload expunged: its retention period ended/).waitFor();
  check((await page.locator('.fact').filter({ hasText: 'Payload kept until' }).count()) === 0, 'an expunged payload still shows how long it is kept');
  log('a message shows its retention, and an expunged payload reads as expunged');

  // --- channels and a rate limit, set in the form and changed in the edit form. A
  // separate endpoint, deleted at once: with channels it would miss the messages below.
  const rateOf = (endpoint) => endpoint.rateLimit ?? endpoint.throttleRate ?? null;
  const fact = (name) => page.locator('.fact').filter({ hasText: name });
  await page.goto(`${base}/apps/${acme.id}/endpoints/new`);
  const channelsUrl = receiver.url.replace(/acme$/, 'acme-channels');
  await page.getByLabel('URL', { exact: true }).fill(channelsUrl);
  await page.getByLabel('Channels').fill('billing, eu');
  await page.getByLabel('Rate limit (messages per second)').fill('25');
  await page.getByRole('button', { name: 'Create endpoint' }).click();
  await page.waitForURL(/\/endpoints\/ep_/);
  const channelsId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop());
  await page.getByRole('heading', { name: channelsUrl }).waitFor();
  await fact('Channels').getByText('billing, eu', { exact: true }).waitFor();
  await fact('Rate limit').getByText('25 per second', { exact: true }).waitFor();
  const channelsCreated = await api('GET', `/api/v1/app/${acme.id}/endpoint/${channelsId}`);
  check(
    JSON.stringify(channelsCreated.channels) === JSON.stringify(['billing', 'eu']) && rateOf(channelsCreated) === 25,
    `the endpoint created with channels and a rate limit holds ${JSON.stringify(channelsCreated)}`,
  );
  await page.getByRole('link', { name: 'Edit' }).click();
  // The edit form fills its fields once the endpoint has loaded.
  await eventually('the edit form to show the channels', async () => (await page.getByLabel('Channels').inputValue()) === 'billing, eu');
  check((await page.getByLabel('Rate limit (messages per second)').inputValue()) === '25', 'the edit form does not show the rate limit');
  await page.getByLabel('Channels').fill('billing');
  await page.getByLabel('Rate limit (messages per second)').fill('40');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(new RegExp(`/endpoints/${channelsId}$`));
  await fact('Channels').getByText('billing', { exact: true }).waitFor();
  await fact('Rate limit').getByText('40 per second', { exact: true }).waitFor();
  const channelsEdited = await api('GET', `/api/v1/app/${acme.id}/endpoint/${channelsId}`);
  check(
    JSON.stringify(channelsEdited.channels) === JSON.stringify(['billing']) && rateOf(channelsEdited) === 40,
    `the edited endpoint holds ${JSON.stringify(channelsEdited)}`,
  );
  await api('DELETE', `/api/v1/app/${acme.id}/endpoint/${channelsId}`);
  log('channels and a rate limit set in the form and changed in the edit form; the screen and the API hold them');

  // --- the log filtered by event type and by time. Message 2's retries waited 5 s
  // each, so an instant halfway to the test event parts the first two messages from
  // the later ones whatever the clock's resolution.
  const acmeMessage = (id) => api('GET', `/api/v1/app/${acme.id}/msg/${id}`);
  const early = [msg1.id, msg2.id].sort();
  const late = [exampleId, msgRecover.id, ...keyed.map((m) => m.id), scheduled.id].sort();
  const [msg2Out, exampleOut] = [await acmeMessage(msg2.id), await acmeMessage(exampleId)];
  const parting = Math.floor((Date.parse(msg2Out.timestamp) + Date.parse(exampleOut.timestamp)) / 2 / 1000) * 1000;
  check(
    Date.parse(msg2Out.timestamp) < parting && parting < Date.parse(exampleOut.timestamp),
    `no whole second between message 2 (${msg2Out.timestamp}) and the test event (${exampleOut.timestamp})`,
  );
  // The form takes the browser's wall time.
  const partingLocal = await page.evaluate((ms) => {
    const date = new Date(ms);
    const pad = (n) => String(n).padStart(2, '0');
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  }, parting);
  const logRows = async () => (await page.locator('tr[data-msg-id]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-msg-id')))).sort();
  const rowsAre = (what, expected) => eventually(what, async () => JSON.stringify(await logRows()) === JSON.stringify([...expected].sort()));
  await page.goto(`${base}/apps/${acme.id}`);
  await page.locator('tr[data-msg-id]').first().waitFor();
  const filters = page.locator('details.filters');
  await filters.locator('summary').click();
  await filters.getByLabel('Event types').fill('order.shipped');
  await filters.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL((url) => url.searchParams.get('event_types') === 'order.shipped');
  await rowsAre('the event type filter to list the two keyed messages', keyed.map((m) => m.id));
  await filters.getByLabel('Event types').fill('');
  await filters.getByLabel('After', { exact: true }).fill(partingLocal);
  await filters.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL((url) => url.searchParams.has('after') && !url.searchParams.has('event_types'));
  await rowsAre('"after" to leave out messages 1 and 2', late);
  await filters.getByLabel('After', { exact: true }).fill('');
  await filters.getByLabel('Before', { exact: true }).fill(partingLocal);
  await filters.getByLabel('Event types').fill('invoice.paid');
  await filters.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL((url) => url.searchParams.has('before') && !url.searchParams.has('after') && url.searchParams.get('event_types') === 'invoice.paid');
  await rowsAre('"before" with invoice.paid to list messages 1 and 2 alone', early);
  check((await page.getByText('Not applied with this combination').count()) === 0, 'the log says a time or event type filter was not applied');
  await page.reload();
  await rowsAre('the time and event type filters to survive a reload', early);
  // Find by message id (the eventId was found above).
  await page.getByLabel('Message id or eventId').fill(msgRecover.id);
  await page.getByRole('button', { name: 'Find' }).click();
  await page.waitForURL(new RegExp(`/messages/${msgRecover.id}$`));
  await page.getByText('"invoice": "in_recover"').waitFor();
  log('the message log filters by event type, after and before; a message is found by its id');

  // --- two dead-lettered deliveries, replayed together from the DLQ screen. The
  // receiver answers 404, which is retried but does not count towards the breaker.
  receiver.state.failing = true;
  receiver.state.failStatus = 404;
  const msg3 = await api('POST', `/api/v1/app/${acme.id}/msg`, { eventType: 'invoice.paid', eventId: 'evt-e2e-3', payload: { invoice: 'in_3' } });
  const msg3b = await api('POST', `/api/v1/app/${acme.id}/msg`, { eventType: 'invoice.paid', payload: { invoice: 'in_3b' } });
  await eventually('messages 3 and 3b to be dead-lettered', async () => {
    const list = await api('GET', `/api/v1/app/${acme.id}/dead-letter?endpoint_id=${endpointId}`);
    return [msg3.id, msg3b.id].every((id) => list.data.some((entry) => entry.msgId === id));
  });
  receiver.state.failing = false;
  receiver.state.failStatus = null;
  await page.goto(`${base}/apps/${acme.id}/dead-letter`);
  const dlqRows = [msg3.id, msg3b.id].map((id) => page.locator(`tr[data-msg-id="${id}"]`));
  for (const row of dlqRows) {
    await row.waitFor();
    await row.getByRole('checkbox').check();
  }
  await page.getByText('2 selected').waitFor();
  await shot(page, '06-dead-letter');
  await page.getByRole('button', { name: 'Replay selected' }).click();
  await page.getByRole('status').getByText(/Replay: 2 of 2 sent · Herald accepted 2/).waitFor();
  // One background task (one endpoint) releases them; the page follows it to the end.
  await page.getByRole('status').getByText(/Released 2 of 2 by 1 background task at each endpoint's pace · done/).waitFor();
  await eventually('the replayed messages 3 and 3b to reach the receiver', async () =>
    [msg3.id, msg3b.id].every((id) => receiver.state.requests.some((r) => r.headers['webhook-id'] === id && r.status === 200)),
  );
  for (const row of dlqRows) await row.waitFor({ state: 'detached' });
  const afterReplay = await api('GET', `/api/v1/app/${acme.id}/dead-letter`);
  check(!afterReplay.data.some((entry) => entry.msgId === msg3.id || entry.msgId === msg3b.id), 'a replayed dead letter is still in the API\'s queue');
  await shot(page, '07-dead-letter-replayed');
  log('two dead letters selected and replayed in one action: progress 2 of 2, its task followed to done, delivered, gone from the queue');

  // --- and one discarded
  receiver.state.failing = true;
  const msgDiscard = await api('POST', `/api/v1/app/${acme.id}/msg`, { eventType: 'invoice.paid', payload: { invoice: 'in_discard' } });
  await eventually('the message to discard to be dead-lettered', async () => {
    const list = await api('GET', `/api/v1/app/${acme.id}/dead-letter`);
    return list.data.some((entry) => entry.msgId === msgDiscard.id);
  });
  receiver.state.failing = false;
  const discardRow = page.locator(`tr[data-msg-id="${msgDiscard.id}"]`);
  await discardRow.waitFor();
  await discardRow.getByRole('checkbox').check();
  page.once('dialog', (dialog) => dialog.accept());
  await page.getByRole('button', { name: 'Discard selected' }).click();
  await page.getByText('Herald discarded 1').waitFor();
  await discardRow.waitFor({ state: 'detached' });
  const afterDiscard = await api('GET', `/api/v1/app/${acme.id}/dead-letter`);
  check(!afterDiscard.data.some((entry) => entry.msgId === msgDiscard.id), 'the discarded dead letter is still listed');
  log('dead letter discarded from the DLQ screen');

  // --- the Overview: who failed in the last hour, with a way to them. Other Co gets
  // one dead letter on an endpoint of its own (Acme's breaker would open after
  // two more failures in a row), so Acme's queue is empty and Other Co's is not.
  const otherEndpoint = await api('POST', `/api/v1/app/${other.id}/endpoint`, { url: receiver.url.replace(/acme$/, 'other-co') });
  receiver.state.failing = true;
  const msgOverview = await api('POST', `/api/v1/app/${other.id}/msg`, { eventType: 'invoice.paid', payload: { invoice: 'in_overview' } });
  await eventually('the message for the Overview to be dead-lettered', async () => {
    const list = await api('GET', `/api/v1/app/${other.id}/dead-letter?endpoint_id=${otherEndpoint.id}`);
    return list.data.some((entry) => entry.msgId === msgOverview.id);
  });
  receiver.state.failing = false;
  await page.goto(`${base}/`);
  await page.waitForURL(/\/overview$/);
  const failingNumber = page.locator('.failing-number');
  await failingNumber.waitFor();
  const stats = await api('GET', '/api/v1/stats/overview');
  check(stats.failingDeliveries >= 4, `the API counts ${stats.failingDeliveries} failing deliveries, expected at least 4`);
  await eventually('the Overview to show the API\'s failing count', async () => Number((await failingNumber.textContent()).replace(/,/g, '')) === stats.failingDeliveries);
  await page.getByText('deliveries failed in the last hour').first().waitFor();
  const failingTable = page.getByRole('table', { name: 'Applications with failures' });
  const acmeRow = failingTable.locator(`tr[data-app-id="${acme.id}"]`);
  const otherRow = failingTable.locator(`tr[data-app-id="${other.id}"]`);
  await acmeRow.waitFor();
  await otherRow.waitFor();
  const listed = await failingTable.locator('tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-app-id')));
  check(JSON.stringify(listed) === JSON.stringify([acme.id, other.id]), `the Overview lists ${JSON.stringify(listed)}, expected Acme (most failures) then Other Co`);
  const acmeStats = stats.applications.find((entry) => entry.appId === acme.id);
  const otherStats = stats.applications.find((entry) => entry.appId === other.id);
  check(acmeStats && acmeStats.failingDeliveries >= 4 && acmeStats.deadLetters === 0, `unexpected Acme overview: ${JSON.stringify(acmeStats)}`);
  check(otherStats && otherStats.failingDeliveries === 1 && otherStats.deadLetters === 1, `unexpected Other Co overview: ${JSON.stringify(otherStats)}`);
  check(stats.deadLetters === 1, `the API counts ${stats.deadLetters} dead letters, expected 1`);
  const acmeFailedLink = acmeRow.getByRole('link', { name: `${acmeStats.failingDeliveries} failed deliveries of Acme Corp` });
  await acmeFailedLink.waitFor();
  const chart = page.getByRole('img', { name: /^Deliveries created in the last hour in 12 slices of 5 min: \d+ succeeded, \d+ failed, \d+ pending\.$/ });
  await chart.waitFor();
  check((await page.locator('.chart-svg rect.chart-failed').count()) > 0, 'the chart has no failed bar');
  await shot(page, 'overview');

  // The failure count opens the log filtered to the messages that failed in the
  // window: the four that failed (whatever became of them since), not those
  // delivered at the first try.
  const failedAtSomePoint = [msg2.id, msgRecover.id, msg3.id, msg3b.id, msgDiscard.id].sort();
  const neverFailed = [msg1.id, exampleId, ...keyed.map((m) => m.id)];
  const listedMessages = async () => (await page.locator('tr[data-msg-id]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-msg-id')))).sort();
  await acmeFailedLink.click();
  await page.waitForURL(new RegExp(`/apps/${acme.id}\\?failed_since=[^&]+$`));
  const failedSince = new URL(page.url()).searchParams.get('failed_since');
  check(
    Math.abs(Date.parse(failedSince) - (Date.now() - 3_600_000)) < 120_000,
    `the click-through filters from ${failedSince}, not the start of the last hour`,
  );
  const chips = page.getByRole('list', { name: 'Applied filters' });
  await chips.getByText(/^Failed since (\d{4}-\d\d-\d\d )?\d\d:\d\d$/).waitFor();
  await eventually(
    'the click-through to list exactly the messages that failed',
    async () => JSON.stringify(await listedMessages()) === JSON.stringify(failedAtSomePoint),
  );
  const listedAfterClick = await listedMessages();
  check(!neverFailed.some((id) => listedAfterClick.includes(id)), `the failed messages' log lists a message that never failed: ${listedAfterClick}`);
  await shot(page, '03a-message-log-failed-since');
  // With another filter: of those, the ones delivered since (the discarded one is not).
  await page.locator('details.filters > summary').click();
  await page.getByLabel('Delivery status').selectOption('0');
  await page.getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL((url) => url.searchParams.get('failed_since') === failedSince && url.searchParams.get('status') === '0');
  await eventually(
    'failed since and succeeded together to leave out the discarded message',
    async () => JSON.stringify(await listedMessages()) === JSON.stringify([msg2.id, msgRecover.id, msg3.id, msg3b.id].sort()),
  );
  // Removing the chip (with the keyboard) keeps the status filter, and the message delivered at once comes back.
  await page.locator('body').click({ position: { x: 1, y: 1 } });
  await tabTo(page, chips.getByRole('button', { name: /^Remove the filter: Failed since/ }), 'the chip\'s remove button');
  await page.keyboard.press('Enter');
  await page.waitForURL(new RegExp(`/apps/${acme.id}\\?status=0$`));
  await chips.waitFor({ state: 'detached' });
  await page.locator(`tr[data-msg-id="${msg1.id}"]`).waitFor();
  await page.goBack();
  await page.waitForURL(/\/overview$/);
  log('the failure count opens the log of exactly the messages that failed in the window; the chip combines with the status filter and removes alone');
  await page.getByRole('button', { name: '24 hours' }).click();
  await page.waitForURL(/\/overview\?window=24h$/);
  await page.getByText('deliveries failed in the last 24 hours').first().waitFor();
  await page.reload();
  await page.getByRole('button', { name: '24 hours', pressed: true }).waitFor();
  await page.getByRole('img', { name: /in 24 slices of 1 h/ }).waitFor();
  const dayHref = new URL(await acmeFailedLink.getAttribute('href'), base);
  check(
    Math.abs(Date.parse(dayHref.searchParams.get('failed_since')) - (Date.now() - 24 * 3_600_000)) < 120_000,
    `over 24 hours the failure count links to ${dayHref}, not to the failures since a day ago`,
  );
  await acmeRow.getByRole('link', { name: 'Acme Corp', exact: true }).click();
  await page.waitForURL(new RegExp(`/apps/${acme.id}$`));
  await page.getByRole('heading', { name: 'Acme Corp' }).waitFor();
  await page.goBack();
  await page.waitForURL(/\/overview\?window=24h$/);
  await otherRow.getByRole('link', { name: '1 dead letter of Other Co' }).click();
  await page.waitForURL(new RegExp(`/apps/${other.id}/dead-letter$`));
  await page.locator(`tr[data-msg-id="${msgOverview.id}"]`).waitFor();
  log(`overview shows ${stats.failingDeliveries} failing deliveries for Acme and Other Co; the links open the application and its dead letters`);

  // --- signature help
  await page.goto(`${base}/help/signatures`);
  await page.getByRole('heading', { name: 'Verifying webhook signatures' }).waitFor();
  await page.getByRole('tab', { name: 'Go' }).click();
  await page.getByText('hmac.New(sha256.New, key)').waitFor();
  await shot(page, '08-signatures');

  // --- a phone: long payloads wrap or scroll inside their box
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/apps/${acme.id}/messages/${msg1.id}`);
  await page.getByRole('heading', { name: 'Payload' }).waitFor();
  await noHorizontalOverflow(page, 'message detail on a phone');
  await shot(page, '09-phone-message');
  await page.goto(`${base}/apps/${acme.id}`);
  await page.getByRole('heading', { name: 'Message log' }).waitFor();
  await noHorizontalOverflow(page, 'application on a phone');
  await page.goto(`${base}/apps/${acme.id}/endpoints/${endpointId}`);
  await page.getByRole('table', { name: 'Attempts' }).waitFor();
  await page.locator('#health').getByText(/^Latency: median/).waitFor();
  await noHorizontalOverflow(page, 'endpoint on a phone');
  await page.goto(`${base}/overview?window=7d`);
  await page.getByRole('img', { name: /in 28 slices of 6 h/ }).waitFor();
  await noHorizontalOverflow(page, 'overview on a phone');
  await page.setViewportSize({ width: 1280, height: 900 });
  log('phone layout does not scroll sideways');

  // --- the operator makes a portal link for Acme in the UI; it says when it expires
  await page.goto(`${base}/apps/${acme.id}`);
  await page.getByText('Customer portal link').click();
  await page.getByRole('button', { name: 'Create link' }).click();
  const portalLinkText = page.locator('details.disclosure .secret-line').getByText(/\/portal#token=/);
  await portalLinkText.waitFor();
  const access = { url: (await portalLinkText.textContent()).trim() };
  access.token = new URLSearchParams(new URL(access.url).hash.slice(1)).get('token');
  check(access.token, `no token in the portal link ${access.url}`);
  const expiry = page.locator('details.disclosure').getByText(/^Expires \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(in (59 min( \d+ s)?|1 h)\)$/);
  await expiry.waitFor();
  const expiresAt = await expiry.locator('time').getAttribute('datetime');
  check(Math.abs(Date.parse(expiresAt) - (Date.now() + 3_600_000)) < 60_000, `the portal link expires at ${expiresAt}, not in an hour`);
  log(`portal link made in the UI, expiring ${expiresAt}`);

  // --- the customer portal: one application, nothing else
  const portalUrl = `${base}${new URL(access.url).pathname}${new URL(access.url).hash}`;
  const portal = await context.newPage();
  portal.on('pageerror', (error) => pageErrors.push(error.message));
  const portalAskedOverview = [];
  portal.on('request', (req) => {
    if (req.url().includes('/api/v1/stats/overview')) portalAskedOverview.push(req.url());
  });
  const refused = [];
  portal.on('response', (res) => {
    if (res.status() === 403) refused.push(res.url());
  });
  await portal.goto(portalUrl);
  await portal.waitForURL(new RegExp(`/apps/${acme.id}$`));
  await portal.getByRole('heading', { name: 'Acme Corp' }).waitFor();
  check(!portal.url().includes('token='), 'the portal token stayed in the address bar');
  await portal.locator(`tr[data-msg-id="${msg1.id}"]`).or(portal.getByRole('link', { name: msg1.id })).first().waitFor();
  check((await portal.getByRole('link', { name: 'Applications' }).count()) === 0, 'the portal shows a link to the application list');
  check(!(await portal.content()).includes('Other Co'), 'the portal shows another application');
  await shot(portal, '10-portal');
  await portal.goto(`${base}/apps`);
  await portal.waitForURL(new RegExp(`/apps/${acme.id}$`));
  await portal.getByRole('heading', { name: 'Acme Corp' }).waitFor();
  check((await portal.getByRole('link', { name: 'Overview' }).count()) === 0, 'the portal shows a link to the Overview');
  await portal.goto(`${base}/overview`);
  await portal.waitForURL(new RegExp(`/apps/${acme.id}$`));
  await portal.getByRole('heading', { name: 'Acme Corp' }).waitFor();
  const portalOverview = await fetch(`${base}/api/v1/stats/overview`, { headers: { authorization: `Bearer ${access.token}` } });
  check(portalOverview.status === 401 || portalOverview.status === 403, `a portal token can read the overview (${portalOverview.status})`);
  check(portalAskedOverview.length === 0, `the portal asked for the overview: ${portalAskedOverview.join(', ')}`);
  await portal.goto(`${base}/apps/${other.id}`);
  await portal.getByText('Access refused.').waitFor();
  check(!(await portal.content()).includes('Other Co'), 'the refusal page shows the other application');
  check(refused.some((url) => url.includes(`/api/v1/app/${other.id}`)), 'the refusal did not come from a 403 of the API');
  await shot(portal, '11-portal-refused');
  await portal.getByRole('link', { name: 'Go to your application' }).click();
  await portal.waitForURL(new RegExp(`/apps/${acme.id}$`));
  await portal.getByRole('link', { name: 'Dead letters' }).click();
  await portal.getByRole('heading', { name: 'Dead-letter queue' }).waitFor();
  check(!(await portal.content()).includes('Other Co'), 'the portal dead-letter screen shows another application');
  log('portal sees its application only; another application is refused');

  // --- the customer opts its endpoint into ed25519 (v1a) signatures and reads the public key
  await portal.goto(`${base}/apps/${acme.id}/endpoints/${encodeURIComponent(endpointId)}`);
  const signingKey = portal.locator('#signing-key');
  await signingKey.getByText('This endpoint signs with its HMAC secret only.').waitFor();
  portal.once('dialog', (dialog) => dialog.accept());
  await signingKey.getByRole('button', { name: 'Add ed25519 signatures' }).click();
  const shownKey = signingKey.getByText(/^whpk_/);
  await shownKey.waitFor();
  const publicKey = (await api('GET', `/api/v1/app/${acme.id}/endpoint/${endpointId}/signing-key`)).publicKey;
  check((await shownKey.textContent()).trim() === publicKey, `the portal shows ${await shownKey.textContent()}, the API ${publicKey}`);
  await shot(portal, '12-portal-signing-key');
  log(`portal customer opted into ed25519 signatures; public key ${publicKey.slice(0, 14)}… shown`);

  // --- delivery receipts: the customer expects them, makes an endpoint key, and what the
  // key confirms leaves the "delivered, not confirmed" list and shows as processed in the log
  const receipts = portal.locator('#receipts');
  await receipts.getByText('This endpoint expects no receipts.').waitFor();
  await receipts.getByLabel('Receipt window (seconds)').fill('60');
  await receipts.getByRole('button', { name: 'Expect receipts' }).click();
  await receipts.getByText('Receipts expected within 1 min.').waitFor();
  await portal.locator('.fact').filter({ hasText: 'Receipts' }).getByText('Expected within 1 min').waitFor();
  check((await api('GET', `/api/v1/app/${acme.id}/endpoint/${endpointId}`)).receiptWindow === 60, 'the receipt window is not in the API');
  const confirmMe = await api('POST', `/api/v1/app/${acme.id}/msg`, { eventType: 'invoice.paid', payload: { invoice: 'in_receipt' } });
  await eventually('the message to confirm at the receiver', async () =>
    receiver.state.requests.some((r) => r.headers['webhook-id'] === confirmMe.id && r.status === 200),
  );
  await receipts.getByLabel('Delivered more than (seconds) ago').fill('0');
  const unconfirmedRow = receipts.locator(`tr[data-msg-id="${confirmMe.id}"]`);
  await eventually('the delivery listed as not confirmed', async () => {
    await receipts.getByRole('button', { name: 'Refresh' }).click();
    return (await unconfirmedRow.count()) === 1;
  });
  await receipts.getByRole('button', { name: 'Create key' }).click();
  const endpointKeyText = receipts.locator('.new-key').getByText(/^sk_ep_/);
  await endpointKeyText.waitFor();
  const endpointKey = (await endpointKeyText.textContent()).trim();
  const confirmed = await apiClient(base, endpointKey)('POST', `/api/v1/app/${acme.id}/endpoint/${endpointId}/receipt`, { msgIds: [confirmMe.id] });
  check(confirmed.data.length === 1 && confirmed.data[0].msgId === confirmMe.id, `the endpoint key's receipt: ${JSON.stringify(confirmed)}`);
  await eventually('the confirmed delivery gone from the list', async () => {
    await receipts.getByRole('button', { name: 'Refresh' }).click();
    return (await unconfirmedRow.count()) === 0;
  });
  await receipts.getByText('Nothing is waiting for a receipt.').waitFor();
  await shot(portal, '13-portal-receipts');
  await portal.goto(`${base}/apps/${acme.id}?endpoint=${encodeURIComponent(endpointId)}#messages`);
  await portal.locator(`tr[data-msg-id="${confirmMe.id}"]`).getByText(/^processed/).waitFor();
  log('portal customer expects receipts; an endpoint key made in the portal confirmed a delivery, which left the unconfirmed list and shows as processed');

  // --- polling endpoints: created in the portal, read with a poller key made there, revoked
  await portal.goto(`${base}/apps/${acme.id}`);
  const pollers = portal.locator('#pollers');
  await pollers.getByText('No polling endpoints.').waitFor();
  await pollers.getByLabel('Description').fill('Nightly import');
  await pollers.getByLabel('Event types (comma-separated, empty for all)').fill('invoice.paid');
  await pollers.getByRole('button', { name: 'Add polling endpoint' }).click();
  await pollers.getByRole('link', { name: 'Nightly import' }).click();
  await portal.getByRole('heading', { name: 'Nightly import' }).waitFor();
  await portal.locator('.fact').filter({ hasText: 'Event types' }).getByText('invoice.paid').waitFor();
  const pollerId = portal.url().split('/pollers/')[1];
  await portal.getByRole('button', { name: 'Create key' }).click();
  const pollerKeyText = portal.locator('.new-key').getByText(/^sk_poll_/);
  await pollerKeyText.waitFor();
  const pollerKey = (await pollerKeyText.textContent()).trim();
  const pulled = await apiClient(base, pollerKey)('GET', `/api/v1/app/${acme.id}/poller/${pollerId}?limit=250`);
  check(pulled.data.some((m) => m.id === confirmMe.id), `the poller key did not read the message: ${JSON.stringify(pulled).slice(0, 300)}`);
  check(pulled.data.every((m) => m.eventType === 'invoice.paid'), 'the poller shows another event type');
  await shot(portal, '14-portal-poller');
  portal.once('dialog', (dialog) => dialog.accept());
  await portal.getByRole('button', { name: /^Revoke skey_/ }).click();
  await portal.getByText(/^Key skey_\w+ revoked\.$/).waitFor();
  const afterRevoke = await fetch(`${base}/api/v1/app/${acme.id}/poller/${pollerId}`, { headers: { authorization: `Bearer ${pollerKey}` } });
  check(afterRevoke.status === 401, `a revoked poller key still reads (${afterRevoke.status})`);
  log('portal customer created a polling endpoint, read it with a poller key made there, and revoked the key');

  // --- 401 sends the user back to sign-in: a revoked portal token, a bad API key
  await portal.getByRole('button', { name: 'Sign out' }).click();
  await portal.waitForURL(/\/signin\?reason=portal-signed-out/);
  const revoked = await fetch(`${base}/api/v1/app/${acme.id}`, { headers: { authorization: `Bearer ${access.token}` } });
  check(revoked.status === 401, `a signed-out portal token still works (${revoked.status})`);
  await portal.evaluate(([token, appId]) => sessionStorage.setItem('herald.session', JSON.stringify({ kind: 'portal', token, appId })), [access.token, acme.id]);
  await portal.goto(`${base}/apps/${acme.id}`);
  await portal.waitForURL(/\/signin\?reason=portal-expired/);
  await portal.getByText('This portal link has expired or was revoked.').waitFor();
  await page.evaluate(() => sessionStorage.setItem('herald.session', JSON.stringify({ kind: 'operator', apiKey: 'sk_no_such_key' })));
  await page.goto(`${base}/apps`);
  await page.waitForURL(/\/signin\?reason=expired/);
  await page.getByText('Your API key was refused').waitFor();
  log('401 returns to sign-in with an explanation');

  check(pageErrors.length === 0, `uncaught errors in the page: ${pageErrors.join(' | ')}`);
}

let failed = false;
try {
  await main();
  log('PASS');
} catch (error) {
  failed = true;
  console.error(`[e2e] FAIL: ${error instanceof Failure ? error.message : error?.stack ?? error}`);
  await failureShots();
  if (heraldLog && fs.existsSync(heraldLog)) {
    const lines = fs.readFileSync(heraldLog, 'utf8').trim().split('\n');
    console.error('[e2e] last lines of the herald log:\n' + lines.slice(-30).join('\n'));
  }
} finally {
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch {
      // Keep cleaning up.
    }
  }
}
console.log(failed ? '0 passed, 1 failed' : '1 passed, 0 failed');
process.exit(failed ? 1 : 0);
