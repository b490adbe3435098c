#!/usr/bin/env node
/*
 * End-to-end test of the dashboard against a RUNNING stack, in Debian's
 * Chromium driven by playwright-core (no browser download).
 *
 *   OPERATOR_URL  the operator (serving ui/dist), e.g. http://127.0.0.1:8080
 *   FO_TOKEN      an operator token (`./tools/fleetops token NAME`)
 *   PG_DSN        PostgreSQL of that operator, to check alert_status there
 *   FO_E2E_ARTIFACTS  screenshots directory (default ui/e2e/artifacts)
 *   FO_E2E_SCENES / FO_E2E_SPEED  the replay it starts (default all scenes, 10)
 *   FO_E2E_ALERT_DEADLINE_MS  how soon a new alert must be in the list (5000)
 *   CHROMIUM      browser binary (default /usr/bin/chromium)
 *   FO_E2E_ALLOW_NO_PG=1  skip the PostgreSQL checks (only for the dev mock)
 *
 * Steps: sign in through a #token= link; start a replay through the API;
 * the map renders vehicles; a new alert shows in the list within seconds
 * of the server having it; Acknowledge changes it in the list and in
 * PostgreSQL; Pull over turns the vehicle UNDER_INTERVENTION in the store,
 * on the map feature and red on screen; the pull-over resolves it; the
 * page never fetched from another origin. Exit 0 pass, 1 fail, 77 skip.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { accessSync, constants } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';

const here = dirname(fileURLToPath(import.meta.url));
const OPERATOR_URL = (process.env.OPERATOR_URL ?? '').replace(/\/+$/, '');
const TOKEN = process.env.FO_TOKEN ?? '';
const PG_DSN = process.env.PG_DSN ?? '';
const ARTIFACTS = resolve(process.env.FO_E2E_ARTIFACTS ?? join(here, 'artifacts'));
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SPEED = process.env.FO_E2E_SPEED ?? '10';
const ALERT_UI_DEADLINE_MS = Number(process.env.FO_E2E_ALERT_DEADLINE_MS ?? 5000);

function skip(reason) {
  console.log(`SKIP: ${reason}`);
  process.exit(77);
}
if (!OPERATOR_URL) skip('OPERATOR_URL is not set (start the stack with ./tools/fleetops up)');
try {
  accessSync(CHROMIUM, constants.X_OK);
} catch {
  skip(`${CHROMIUM} is missing (apt-get install chromium)`);
}
if (!TOKEN) skip('FO_TOKEN is not set (./tools/fleetops token NAME)');
if (!PG_DSN && process.env.FO_E2E_ALLOW_NO_PG !== '1') skip('PG_DSN is not set (./tools/services.sh env)');

const results = [];
let passed = 0;
let failed = 0;
const t0 = Date.now();
const log = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${msg}`);

async function step(name, fn) {
  const start = Date.now();
  try {
    const detail = await fn();
    passed++;
    results.push({ name, ok: true, ms: Date.now() - start, detail });
    log(`ok   ${name}${detail ? ` (${detail})` : ''}`);
  } catch (e) {
    failed++;
    results.push({ name, ok: false, ms: Date.now() - start, error: String(e?.message ?? e) });
    log(`FAIL ${name}: ${e?.message ?? e}`);
    throw e;
  }
}

async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method === 'POST') {
    headers.Authorization = `Bearer ${TOKEN}`;
    headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(OPERATOR_URL + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, text };
}

async function until(what, fn, timeoutMs, everyMs = 200) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs / 1000} s${last instanceof Error ? ` (${last.message})` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

let pg = null;
async function pgQuery(sql, params) {
  if (!PG_DSN) return null;
  if (!pg) {
    const { default: pgmod } = await import('pg');
    pg = new pgmod.Client({ connectionString: PG_DSN });
    await pg.connect();
  }
  return (await pg.query(sql, params)).rows;
}

let browser = null;
let page = null;
const closers = [];
let replayId = null;
const foreign = [];
const consoleErrors = [];

async function shot(name) {
  if (!page) return;
  const file = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file });
  log(`screenshot ${file}`);
}

async function main() {
  await mkdir(ARTIFACTS, { recursive: true });
  const origin = new URL(OPERATOR_URL).origin;

  await step('operator is up', async () => {
    const h = await api('GET', '/health').catch((e) => {
      throw new Error(`GET ${OPERATOR_URL}/health: ${e.cause?.code ?? e.message}`);
    });
    if (h.status !== 200 && h.status !== 503) throw new Error(`GET /health answered ${h.status}`);
    const idx = await fetch(`${OPERATOR_URL}/`);
    const html = await idx.text();
    if (!idx.ok || !html.includes('<div id="root">')) throw new Error(`GET / does not serve the dashboard (${idx.status}); build ui/dist`);
    return `health ${h.json?.status ?? h.status}`;
  });

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1600, height: 900 } });
  // When each alert row first enters the DOM (wall clock, as the test's).
  await context.addInitScript(() => {
    window.__e2eRowsAt = {};
    new MutationObserver(() => {
      const t = Date.now();
      for (const r of document.querySelectorAll('[data-testid="alert-row"]')) window.__e2eRowsAt[r.dataset.alertId] ??= t;
    }).observe(document, { childList: true, subtree: true });
  });
  page = await context.newPage();
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith('data:') && !u.startsWith('blob:') && !u.startsWith(origin)) foreign.push(u);
  });
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  await step('sign in with a #token= link', async () => {
    await page.goto(`${OPERATOR_URL}/#token=${encodeURIComponent(TOKEN)}`);
    await page.waitForSelector('[data-testid="connection-status"][data-state="open"], [data-testid="login-message"]', { timeout: 30000 });
    if (await page.locator('[data-testid="login-message"]').count())
      throw new Error(`the dashboard refused FO_TOKEN: ${await page.locator('[data-testid="login-message"]').innerText()}`);
    const hash = await page.evaluate(() => location.hash);
    if (hash.includes('token')) throw new Error(`the token stayed in the URL (${hash})`);
    return 'connection live, token gone from the URL';
  });

  // The test's own /ws: the moment the server announces each alert.
  const announced = [];
  const sock = new WebSocket(`${OPERATOR_URL.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(TOKEN)}`);
  sock.on('message', (data) => {
    let m;
    try {
      m = JSON.parse(String(data));
    } catch {
      return;
    }
    if (m.type === 'alert_created') for (const a of m.alerts ?? (m.alert ? [m.alert] : [])) announced.push({ a, at: Date.now() });
  });
  await new Promise((ok, fail) => {
    sock.once('open', ok);
    sock.once('error', fail);
    sock.once('close', (code) => fail(new Error(`/ws closed ${code}`)));
  });
  closers.push(() => sock.terminate());
  let replayStartedAt = 0;

  await step('start a replay through the API', async () => {
    const sc = await api('GET', '/replay/scenes');
    if (sc.status !== 200) throw new Error(`GET /replay/scenes: ${sc.status} ${sc.text}`);
    const n = sc.json?.scenes?.length ?? 0;
    if (!n) throw new Error(`the operator has no scenes to replay (${sc.text.slice(0, 200)})`);
    const scenes = process.env.FO_E2E_SCENES ?? `0-${n - 1}`;
    const speed = SPEED === 'max' ? 'max' : Number(SPEED);
    let r = await api('POST', '/replay/start', { scenes, speed });
    if (r.status === 409 && r.json?.replay_id) {
      log(`replay ${r.json.replay_id} is running; stopping it first`);
      await api('POST', '/replay/stop', { replay_id: r.json.replay_id });
      r = await until('the running replay to stop', async () => {
        const again = await api('POST', '/replay/start', { scenes, speed });
        return again.status === 202 ? again : null;
      }, 15000, 500);
    }
    if (r.status !== 202) throw new Error(`POST /replay/start: ${r.status} ${r.text}`);
    replayId = r.json.replay_id;
    replayStartedAt = Date.now();
    return `replay ${replayId}, scenes ${scenes}, speed ${speed}`;
  });

  await step('the map shows vehicles', async () => {
    const s = await until(
      'vehicles rendered on the map',
      () =>
        page.evaluate(() => {
          const p = window.__fleetops;
          if (!p || !p.mapLoaded) return null;
          const rendered = p.renderedVehicles();
          return p.vehiclesOnMap > 0 && rendered > 0 ? { onMap: p.vehiclesOnMap, rendered } : null;
        }),
      30000,
      250,
    );
    await shot('01-vehicles');
    return `${s.onMap} vehicle features, ${s.rendered} rendered in view`;
  });

  let target = null;
  await step('a new alert appears in the list within seconds', async () => {
    // A new OPEN alert of a vehicle the map shows (the replay's, not one
    // known only from alerts), as the server announced it on /ws. A
    // CRITICAL one is preferred: the list puts the most severe first.
    let fallback = null;
    let fallbackUntil = 0;
    let seen = 0;
    const found = await until(
      'a new alert from the replay',
      async () => {
        const fresh = announced.slice(seen).filter((x) => x.at >= replayStartedAt && x.a.alert_status === 'OPEN');
        seen = announced.length;
        const ids = [...new Set(fresh.map((x) => x.a.vehicle_id))];
        const onMap = new Set(await page.evaluate((list) => list.filter((id) => window.__fleetops.mapVehicle(id)), ids));
        for (const x of fresh) {
          if (!onMap.has(x.a.vehicle_id)) continue;
          if (x.a.severity === 'CRITICAL') return x;
          if (!fallback) {
            fallback = x;
            fallbackUntil = Date.now() + 20000;
          }
        }
        return fallback && Date.now() > fallbackUntil ? fallback : null;
      },
      90000,
      200,
    );
    target = found.a;
    const deadline = found.at + ALERT_UI_DEADLINE_MS;
    const left = () => Math.max(1, deadline - Date.now());
    const sel = `[data-testid="alert-row"][data-alert-id="${target.alert_id}"]`;
    await until('the alert in the dashboard\'s store', () => page.evaluate((id) => !!window.__fleetops.alert(id), target.alert_id), left(), 50);
    let how = '';
    const shown = await page
      .waitForSelector(sel, { timeout: Math.min(left(), 1500) })
      .then(() => true)
      .catch(() => false);
    if (!shown) {
      const count = await narrowIfCrowded(target.vehicle_id);
      if (count) how = `, list narrowed to the vehicle (it showed ${count})`;
    }
    // The row must be in the list within the deadline; on software WebGL
    // the page may paint it a little later (frames wait for the GPU
    // process), so visibility gets a grace period of its own.
    await until('the alert row in the list', () => page.locator(sel).count(), left(), 50);
    const inDom = (await page.evaluate((id) => window.__e2eRowsAt[id] ?? null, target.alert_id)) ?? Date.now();
    await page.waitForSelector(sel, { timeout: 5000 });
    const visible = Date.now() - found.at;
    if (inDom - found.at > ALERT_UI_DEADLINE_MS)
      throw new Error(`the row took ${inDom - found.at} ms (deadline ${ALERT_UI_DEADLINE_MS} ms)`);
    await shot('02-alert');
    return `${target.severity} ${target.anomaly_type} on ${target.vehicle_id}: in the list ${inDom - found.at} ms after /ws announced it, visible to the test after ${visible} ms${how}`;
  });

  const row = () => page.locator(`[data-testid="alert-row"][data-alert-id="${target.alert_id}"]`);

  await step('Acknowledge changes the alert in the list and in PostgreSQL', async () => {
    // Newer alerts may have pushed the row out of the rows shown since.
    if (!(await row().count())) await narrowIfCrowded(target.vehicle_id);
    // Pointer over the list first: it holds its order there, so the row
    // stays put while other alerts keep arriving.
    await page.hover('[data-testid="alert-rows"]');
    await row().click();
    await page.waitForSelector(`[data-testid="incident-panel"][data-alert-id="${target.alert_id}"]`, { timeout: 5000 });
    const ack = page.locator('[data-testid="action-acknowledge"]');
    await ack.waitFor({ timeout: 5000 });
    if (await ack.isDisabled()) throw new Error('Acknowledge is disabled on an OPEN alert');
    await ack.click();
    await page.waitForSelector(`[data-testid="alert-row"][data-alert-id="${target.alert_id}"][data-status="ACKNOWLEDGED"]`, { timeout: 10000 });
    const err = await page.locator('[data-testid="action-error"]').count();
    if (err) throw new Error(`the page shows an action error: ${await page.locator('[data-testid="action-error"]').innerText()}`);
    if (!(await ack.isDisabled())) throw new Error('Acknowledge is still enabled on an ACKNOWLEDGED alert');
    await shot('03-acknowledged');
    if (!PG_DSN) return 'list ACKNOWLEDGED; PostgreSQL check skipped (FO_E2E_ALLOW_NO_PG)';
    const rows = await pgQuery('SELECT alert_status FROM alerts WHERE alert_id = $1', [target.alert_id]);
    if (rows?.[0]?.alert_status !== 'ACKNOWLEDGED')
      throw new Error(`PostgreSQL has alert_status ${rows?.[0]?.alert_status ?? '(no row)'} for ${target.alert_id}`);
    return 'list and PostgreSQL say ACKNOWLEDGED';
  });

  await step('Pull over turns the vehicle red', async () => {
    const vid = target.vehicle_id;
    const pull = page.locator('[data-testid="action-pull-over"]');
    if (await pull.isDisabled()) throw new Error('Pull over is disabled on an ACKNOWLEDGED alert');
    await pull.click();
    await until(
      `${vid} UNDER_INTERVENTION in the store and on the map`,
      () =>
        page.evaluate((id) => {
          const p = window.__fleetops;
          return p.vehicle(id)?.state === 'UNDER_INTERVENTION' && p.mapVehicle(id)?.state === 'UNDER_INTERVENTION';
        }, vid),
      5000,
      100,
    );
    // Red on screen: the pixels around the vehicle's circle.
    const red = await redPixelsAround(vid);
    await shot('04-pull-over');
    if (red < 6) throw new Error(`no red circle at ${vid} on screen (${red} red pixels)`);
    return `${vid} UNDER_INTERVENTION, ${red} red pixels at its position`;
  });

  await step('the pull-over resolves the alert and records an incident', async () => {
    await page.waitForSelector(`[data-testid="incident-panel"][data-alert-id="${target.alert_id}"][data-status="RESOLVED"]`, { timeout: 20000 });
    await page.waitForSelector('[data-testid="timeline"] [data-action-type="PULL_OVER_SIMULATED"]', { timeout: 5000 });
    await page.waitForSelector('[data-testid="incident-recorded"]', { timeout: 10000 });
    await shot('05-resolved');
    if (!PG_DSN) return 'RESOLVED in the UI';
    const rows = await pgQuery(
      'SELECT a.alert_status, (SELECT count(*) FROM incident_history i WHERE i.alert_id = a.alert_id) AS incidents FROM alerts a WHERE a.alert_id = $1',
      [target.alert_id],
    );
    if (rows?.[0]?.alert_status !== 'RESOLVED' || Number(rows?.[0]?.incidents) !== 1)
      throw new Error(`PostgreSQL: ${JSON.stringify(rows?.[0] ?? null)}`);
    return 'RESOLVED with one incident in PostgreSQL';
  });

  await step('nothing was fetched from another origin', async () => {
    if (foreign.length) throw new Error(`requests outside ${origin}: ${[...new Set(foreign)].slice(0, 5).join(', ')}`);
    return `console errors: ${consoleErrors.length}`;
  });
}

/**
 * When the list shows fewer rows than match ("500 of 9,000": a backlog or
 * a flood of other alerts), narrows it to one vehicle, as an operator
 * would; returns the count it showed, or null when it was not crowded.
 */
async function narrowIfCrowded(vehicleId) {
  const count = await page.locator('[data-testid="alert-count"]').innerText();
  if (!count.includes('of')) return null;
  await page.fill('[data-testid="filter-vehicle"]', vehicleId);
  return count;
}

async function redPixelsAround(vehicleId) {
  const pt = await page.evaluate((id) => window.__fleetops.screenPoint(id), vehicleId);
  if (!pt) throw new Error(`${vehicleId} has no screen position`);
  const half = 14;
  const clip = { x: Math.max(0, pt.x - half), y: Math.max(0, pt.y - half), width: half * 2, height: half * 2 };
  const png = await page.screenshot({ clip });
  return page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.width;
    c.height = img.height;
    const g = c.getContext('2d');
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] > 190 && d[i + 1] < 110 && d[i + 2] < 110) n++;
    return n;
  }, png.toString('base64'));
}

let code = 0;
try {
  await main();
} catch {
  code = 1;
  await shot('failure').catch(() => {});
  if (consoleErrors.length) log(`browser console errors:\n  ${consoleErrors.slice(0, 10).join('\n  ')}`);
} finally {
  if (replayId) await api('POST', '/replay/stop', { replay_id: replayId }).catch(() => {});
  for (const c of closers) c();
  await browser?.close().catch(() => {});
  await pg?.end().catch(() => {});
  await writeFile(join(ARTIFACTS, 'results.json'), JSON.stringify({ operator: OPERATOR_URL, results }, null, 2)).catch(() => {});
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(code);
