#!/usr/bin/env node
/*
 * A development stand-in for fleetops-operator that follows
 * docs/operator_api.md: REST, /ws (snapshot, alert_created,
 * alert_updated, vehicle_updated every 100 ms, action_executed, stats),
 * the lifecycle table with its 409s, bearer tokens, a simulated pull-over
 * that resolves after --pullover-delay, and replay control that drives a
 * synthetic fleet. It serves ui/dist for any other GET path. In memory
 * only, no PostgreSQL; for developing the dashboard and trying the e2e
 * flow, never a substitute for the real operator in tests.
 *
 *   node dev/mock-operator.mjs [--port 8080] [--vehicles 1000] [--token dev-token]
 *                              [--pullover-delay 5] [--alert-every 8] [--flood N]
 *
 * --flood N adds N alerts a second on vehicles known only from alerts, in
 * batches of up to 1,000 per alert_created, as when the operator catches
 * up on a backlog of the anomalies topic.
 */
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const PORT = Number(args.port ?? 8080);
const VEHICLES = Number(args.vehicles ?? 200);
const TOKENS = new Map([[args.token ?? process.env.FO_TOKEN ?? 'dev-token', { id: 1, name: 'dev' }]]);
const PULLOVER_MS = Number(args['pullover-delay'] ?? 5) * 1000;
const ALERT_EVERY_S = Number(args['alert-every'] ?? 8);
const FLOOD = Number(args.flood ?? 0);
const DIST = fileURLToPath(new URL('../dist/', import.meta.url));

const now = () => new Date().toISOString();
const alerts = new Map();
const actions = [];
const incidents = new Map();
const vehicles = new Map();
const telemetry = new Map();
const pullovers = new Map(); // alert_id -> { vehicle_id, timer }
const replays = [];
let changed = new Set();
let events = 0;
let eventsWindow = 0;

// ---- fleet simulation --------------------------------------------------
let replay = null; // { id, speed, frame, timer, scenes }
const sim = [];

function seedFleet(n) {
  sim.length = 0;
  for (let i = 0; i < n; i++) {
    const angle = (i / n) * Math.PI * 2;
    sim.push({
      id: i === 0 ? 'scene_000_ego' : `scene_${String(Math.floor(i / 100)).padStart(3, '0')}_track_${i}`,
      scene: `scene_${String(Math.floor(i / 100)).padStart(3, '0')}`,
      cx: Math.cos(angle) * 600 + (i % 7) * 40,
      cy: Math.sin(angle) * 600 + (i % 5) * 40,
      r: 30 + (i % 13) * 8,
      w: 0.02 + (i % 11) * 0.004,
      phase: i,
    });
  }
}

function stepFleet() {
  if (!replay) return;
  replay.frame++;
  const t = replay.frame / 10;
  for (const s of sim) {
    const a = s.phase + t * s.w * Math.min(10, replay.speedNum);
    const x = s.cx + Math.cos(a) * s.r;
    const y = s.cy + Math.sin(a) * s.r;
    const speed = s.r * s.w * 10;
    const prev = vehicles.get(s.id);
    const v = {
      vehicle_id: s.id,
      scene_id: s.scene,
      state: prev?.state ?? 'NORMAL',
      x,
      y,
      speed,
      acceleration: Math.abs(Math.sin(a)) * 0.5,
      yaw: a + Math.PI / 2,
      frame_index: replay.frame,
      event_time: now(),
      open_alerts: prev?.open_alerts ?? 0,
    };
    vehicles.set(s.id, v);
    const tl = telemetry.get(s.id) ?? [];
    tl.push({ frame_index: v.frame_index, event_time: v.event_time, x, y, speed, acceleration: v.acceleration, yaw: v.yaw });
    if (tl.length > 30) tl.shift();
    telemetry.set(s.id, tl);
    changed.add(s.id);
  }
  events += sim.length;
  eventsWindow += sim.length;
  replay.events += sim.length;
  if (replay.frame % Math.max(1, Math.round(ALERT_EVERY_S * 10)) === 5) raiseAlert();
}

const TYPES = [
  ['sudden_deceleration', 'hard_braking', { acceleration_magnitude: 6.5, velocity_delta: -4.2, speed: 3.1, window_frames: 10 }, { decel_accel: 4, decel_dv: -3, decel_critical: 8 }],
  ['perception_instability', 'label_drop', { label_drop: 0.41, label_probability: 0.55 }, { label_drop: 0.3 }],
  ['sudden_deceleration', 'hard_braking', { acceleration_magnitude: 9.4, velocity_delta: -6.8, speed: 1.2, window_frames: 10 }, { decel_accel: 4, decel_dv: -3, decel_critical: 8 }],
];
let alertSeq = 0;

function raiseAlert() {
  const [type, rule, features, thresholds] = TYPES[alertSeq % TYPES.length];
  const s = sim[(alertSeq * 37 + 1) % sim.length];
  alertSeq++;
  const severity = features.acceleration_magnitude >= 8 ? 'CRITICAL' : 'WARNING';
  const t = now();
  const frames = Array.from({ length: 12 }, (_, i) => replay.frame - 11 + i);
  const a = {
    alert_id: randomUUID(),
    anomaly_id: randomUUID(),
    event_id: randomUUID(),
    vehicle_id: s.id,
    alert_status: 'OPEN',
    severity,
    anomaly_type: type,
    triggered_rule: rule,
    assigned_operator_id: null,
    assigned_operator: null,
    event_time: t,
    created_at: t,
    updated_at: t,
    acknowledged_at: null,
    resolved_at: null,
    pullover_due_at: null,
    features,
    thresholds,
    evidence: {
      frame_indices: frames,
      velocity_history: frames.map((_, i) => Math.max(0, 8 - (i > 8 ? (i - 8) * 2.2 : 0))),
      acceleration_history: frames.map((_, i) => (i > 8 ? features.acceleration_magnitude ?? 2 : 0.3)),
    },
  };
  alerts.set(a.alert_id, a);
  recomputeVehicle(s.id);
  broadcast({ type: 'alert_created', alerts: [publicAlert(a)] });
}

function publicAlert(a) {
  const { features: _f, thresholds: _t, evidence: _e, ...rest } = a;
  return rest;
}

function recomputeVehicle(id) {
  const v = vehicles.get(id);
  if (!v) return;
  const open = [...alerts.values()].filter((a) => a.vehicle_id === id && (a.alert_status === 'OPEN' || a.alert_status === 'ACKNOWLEDGED'));
  const pulling = [...pullovers.values()].some((p) => p.vehicle_id === id);
  v.open_alerts = open.length;
  v.state = pulling ? 'UNDER_INTERVENTION' : open.some((a) => a.severity === 'CRITICAL') ? 'ALERTING' : open.length ? 'DEGRADED' : 'NORMAL';
  changed.add(id);
}

// ---- WebSocket ----------------------------------------------------------
const clients = new Set();
function broadcast(m) {
  const s = JSON.stringify(m);
  for (const c of clients) if (c.readyState === 1) c.send(s);
}

setInterval(() => {
  if (changed.size === 0) return;
  const batch = [...changed].map((id) => vehicles.get(id)).filter(Boolean);
  changed = new Set();
  broadcast({ type: 'vehicle_updated', vehicles: batch });
}, 100);

setInterval(() => {
  const open = { INFO: 0, WARNING: 0, CRITICAL: 0 };
  for (const a of alerts.values()) if (a.alert_status === 'OPEN' || a.alert_status === 'ACKNOWLEDGED') open[a.severity]++;
  broadcast({ type: 'stats', events_per_s: eventsWindow, latency_p99_ms: 12 + Math.random() * 6, open_alerts: open, vehicles: vehicles.size });
  eventsWindow = 0;
}, 1000);

if (FLOOD > 0)
  setInterval(() => {
    const batch = [];
    for (let i = 0; i < FLOOD / 10; i++) {
      const t = now();
      const a = {
        alert_id: randomUUID(), anomaly_id: randomUUID(), event_id: randomUUID(),
        vehicle_id: `flood_${i % 50}`, alert_status: 'OPEN', severity: ['INFO', 'WARNING', 'CRITICAL'][i % 3],
        anomaly_type: 'sudden_deceleration', triggered_rule: 'hard_braking', assigned_operator_id: null, assigned_operator: null,
        event_time: t, created_at: t, updated_at: t, acknowledged_at: null, resolved_at: null, pullover_due_at: null,
        features: {}, thresholds: {}, evidence: { frame_indices: [], velocity_history: [], acceleration_history: [] },
      };
      alerts.set(a.alert_id, a);
      batch.push(publicAlert(a));
      if (alerts.size > 50_000) alerts.delete(alerts.keys().next().value);
    }
    for (let i = 0; i < batch.length; i += 1000) broadcast({ type: 'alert_created', alerts: batch.slice(i, i + 1000) });
  }, 100);

// ---- REST ----------------------------------------------------------------
function send(res, status, body) {
  const s = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(s) });
  res.end(s);
}
const err = (res, status, error, extra = {}) => send(res, status, { error, ...extra });

function operatorOf(req) {
  const h = req.headers.authorization ?? '';
  const m = /^Bearer (.+)$/.exec(h);
  return m ? TOKENS.get(m[1]) ?? null : null;
}

async function body(req) {
  let s = '';
  for await (const chunk of req) {
    s += chunk;
    if (s.length > 4096) throw new Error('body over 4 KiB');
  }
  return s ? JSON.parse(s) : {};
}

const ACTIVE = (a) => a.alert_status === 'OPEN' || a.alert_status === 'ACKNOWLEDGED';

function act(alert, op, type, metadata = {}) {
  const t = now();
  const pull = pullovers.get(alert.alert_id);
  const vehPull = [...pullovers.values()].some((p) => p.vehicle_id === alert.vehicle_id);
  const allowed = {
    ACKNOWLEDGE: alert.alert_status === 'OPEN',
    ASSIGN: ACTIVE(alert),
    PULL_OVER_SIMULATED: ACTIVE(alert) && !vehPull,
    REQUEST_REMOTE_ASSIST: ACTIVE(alert),
    RESUME: !!pull,
    RESOLVE: ACTIVE(alert),
    DISMISS: ACTIVE(alert),
  }[type];
  if (allowed === undefined) return { status: 400, error: `unknown action_type ${type}` };
  if (!allowed) return { status: 409, error: `${type} not allowed on alert ${alert.alert_id} in ${alert.alert_status}` };
  switch (type) {
    case 'ACKNOWLEDGE':
    case 'REQUEST_REMOTE_ASSIST':
      if (alert.alert_status === 'OPEN') {
        alert.alert_status = 'ACKNOWLEDGED';
        alert.acknowledged_at = t;
      }
      break;
    case 'ASSIGN':
      alert.assigned_operator_id = op.id;
      alert.assigned_operator = op.name;
      break;
    case 'PULL_OVER_SIMULATED': {
      if (alert.alert_status === 'OPEN') {
        alert.alert_status = 'ACKNOWLEDGED';
        alert.acknowledged_at = t;
      }
      const timer = setTimeout(() => {
        pullovers.delete(alert.alert_id);
        const r = act(alert, op, 'RESOLVE', { automatic: true, reason: 'pull_over_completed' });
        if (r.action) {
          broadcast({ type: 'alert_updated', alert: publicAlert(alert) });
          broadcast({ type: 'action_executed', action: r.action });
        }
      }, PULLOVER_MS);
      pullovers.set(alert.alert_id, { vehicle_id: alert.vehicle_id, timer });
      alert.pullover_due_at = new Date(Date.now() + PULLOVER_MS).toISOString();
      break;
    }
    case 'RESUME':
      clearTimeout(pull.timer);
      pullovers.delete(alert.alert_id);
      alert.pullover_due_at = null;
      break;
    case 'RESOLVE':
    case 'DISMISS':
      alert.alert_status = type === 'RESOLVE' ? 'RESOLVED' : 'DISMISSED';
      alert.resolved_at = t;
      if (pull) {
        clearTimeout(pull.timer);
        pullovers.delete(alert.alert_id);
      }
      alert.pullover_due_at = null;
      if (type === 'RESOLVE')
        incidents.set(alert.alert_id, { incident_id: randomUUID(), alert_id: alert.alert_id, vehicle_id: alert.vehicle_id, summary: { severity: alert.severity, anomaly_type: alert.anomaly_type }, resolved_at: t });
      break;
  }
  alert.updated_at = t;
  const action = { action_id: randomUUID(), alert_id: alert.alert_id, vehicle_id: alert.vehicle_id, operator_id: op.id, operator_name: op.name, action_type: type, metadata, created_at: t };
  actions.push(action);
  recomputeVehicle(alert.vehicle_id);
  return { action };
}

const MIME = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png' };

async function serveStatic(res, path) {
  const rel = normalize(path).replace(/^([/\\])+/, '');
  for (const candidate of [join(DIST, rel), join(DIST, 'index.html')]) {
    if (!candidate.startsWith(DIST)) continue;
    try {
      const data = await readFile(candidate);
      res.writeHead(200, { 'Content-Type': MIME[extname(candidate)] ?? 'application/octet-stream' });
      return res.end(data);
    } catch {
      /* next */
    }
  }
  err(res, 404, `no ${path}; run npm run build first`);
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://x');
  const p = url.pathname;
  const parts = p.split('/').filter(Boolean);
  try {
    if (req.method === 'GET') {
      if (p === '/health') return send(res, 200, { status: 'ok', kafka: 'up', postgres: 'up', consumer_lag: 0, mock: true });
      if (p === '/alerts') {
        let list = [...alerts.values()];
        for (const k of ['status', 'severity', 'vehicle_id']) {
          const v = url.searchParams.get(k);
          if (v) list = list.filter((a) => a[k === 'status' ? 'alert_status' : k] === v);
        }
        list.sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
        return send(res, 200, { alerts: list.slice(0, Number(url.searchParams.get('limit') ?? 100)).map(publicAlert), next_cursor: null });
      }
      if (parts[0] === 'alerts' && parts.length === 2) {
        const a = alerts.get(parts[1]);
        if (!a) return err(res, 404, `no alert ${parts[1]}`);
        return send(res, 200, { alert: a, vehicle: vehicles.get(a.vehicle_id) ?? null, actions: actions.filter((x) => x.alert_id === a.alert_id), incident: incidents.get(a.alert_id) ?? null });
      }
      if (p === '/vehicles') return send(res, 200, { vehicles: [...vehicles.values()] });
      if (parts[0] === 'vehicles' && parts.length === 2) {
        const v = vehicles.get(parts[1]);
        if (!v) return err(res, 404, `no vehicle ${parts[1]}`);
        return send(res, 200, { vehicle: v, alerts: [...alerts.values()].filter((a) => a.vehicle_id === v.vehicle_id && ACTIVE(a)).map(publicAlert), telemetry: telemetry.get(v.vehicle_id) ?? [] });
      }
      if (p === '/replay/scenes')
        return send(res, 200, { dataset: 'mock://synthetic', scenes: Array.from({ length: Math.ceil(VEHICLES / 100) }, (_, i) => ({ scene_index: i, scene_id: `scene_${String(i).padStart(3, '0')}`, frames: 248, agents: 100 })) });
      if (p === '/replay/status') return send(res, 200, { replays: [...replays].reverse() });
      return serveStatic(res, p);
    }
    if (req.method === 'POST') {
      const op = operatorOf(req);
      if (!op) return err(res, 401, 'missing or unknown bearer token');
      const b = await body(req);
      if (p === '/replay/start') {
        if (replay) {
          clearInterval(replay.timer);
          replay.rec.status = 'stopped';
          replay.rec.ended_at = now();
        }
        const speedNum = b.speed === 'max' ? 100 : Number(b.speed ?? 1);
        if (!Number.isFinite(speedNum) || speedNum <= 0) return err(res, 400, 'speed: a positive number or "max"');
        const rec = { replay_id: randomUUID(), status: 'running', scenes: String(b.scenes ?? '0'), speed: b.speed ?? 1, events: 0, events_per_s: 0, started_at: now(), ended_at: null, exit_code: null, error: null };
        replays.push(rec);
        seedFleet(VEHICLES);
        replay = { rec, frame: 0, speedNum, events: 0, timer: setInterval(() => { stepFleet(); rec.events = replay.events; rec.events_per_s = VEHICLES * 10; }, 100) };
        return send(res, 202, rec);
      }
      if (p === '/replay/stop') {
        const rec = replays.find((r) => r.replay_id === b.replay_id);
        if (!rec) return err(res, 404, `no replay ${b.replay_id}`);
        if (replay?.rec === rec) {
          clearInterval(replay.timer);
          replay = null;
        }
        if (rec.status === 'running') Object.assign(rec, { status: 'stopped', ended_at: now(), exit_code: 0 });
        return send(res, 200, rec);
      }
      if (parts[0] === 'alerts' && parts.length === 3) {
        const a = alerts.get(parts[1]);
        if (!a) return err(res, 404, `no alert ${parts[1]}`);
        const type = parts[2] === 'acknowledge' ? 'ACKNOWLEDGE' : parts[2] === 'assign' ? 'ASSIGN' : parts[2] === 'actions' ? b.action_type : null;
        if (!type) return err(res, 404, `no route ${p}`);
        const r = act(a, op, type, b.note ? { note: b.note } : {});
        if (r.error) return err(res, r.status, r.error, r.status === 409 ? { alert_status: a.alert_status } : {});
        broadcast({ type: 'alert_updated', alert: publicAlert(a) });
        broadcast({ type: 'action_executed', action: r.action });
        return send(res, 200, { alert: publicAlert(a), action: r.action });
      }
      return err(res, 404, `no route ${p}`);
    }
    return err(res, 405, `${req.method} not taken`);
  } catch (e) {
    return err(res, 400, String(e.message ?? e));
  }
}

const server = createServer((req, res) => void handle(req, res));
const wss = new WebSocketServer({ noServer: true });
server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname !== '/ws') return socket.destroy();
  wss.handleUpgrade(req, socket, head, (ws) => {
    if (!TOKENS.has(url.searchParams.get('token') ?? '')) return ws.close(4401, 'invalid token');
    clients.add(ws);
    ws.on('close', () => clients.delete(ws));
    ws.send(JSON.stringify({ type: 'snapshot', alerts: [...alerts.values()].filter(ACTIVE).map(publicAlert), vehicles: [...vehicles.values()], server_time: now() }));
  });
});
server.listen(PORT, '127.0.0.1', () => {
  console.log(JSON.stringify({ service: 'mock-operator', event_type: 'listening', url: `http://127.0.0.1:${PORT}`, tokens: [...TOKENS.keys()], vehicles: VEHICLES }));
});
const stop = () => {
  for (const c of clients) c.close(1001, 'server stopping');
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
