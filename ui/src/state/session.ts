/*
 * Session wiring: the token (link, storage, login form), the REST client's
 * credentials, the /ws connection's life, and the settings read at start
 * (?style=, ?world_to_ecef=, saved settings, the server's matrix). One
 * socket at a time; signing out or a 4401/401 closes it and shows the
 * login form with the reason. Main thread only.
 */
import { api, configureApi } from '../api/rest';
import { FleetSocket, wsUrl } from '../api/socket';
import { clearToken, initialToken, saveToken } from '../lib/auth';
import { parseMatrix4, type Matrix4 } from '../lib/geo';
import { fleet, receive, setMatrix, signOut, touch, useUi, type Settings } from './store';

const SETTINGS_KEY = 'fleetops.settings';
let socket: FleetSocket | null = null;

interface SavedSettings {
  styleUrl?: string;
  matrix?: unknown;
}

function saved(): SavedSettings {
  try {
    return JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? '{}') as SavedSettings;
  } catch {
    return {};
  }
}

/** Called once at start. */
export function initSession(): void {
  configureApi({
    base: '',
    token: () => useUi.getState().token,
    onUnauthorized: (msg) => endSession(msg),
  });

  const url = new URLSearchParams(location.search);
  const s = saved();
  const styleUrl = url.get('style') ?? s.styleUrl ?? '';
  useUi.setState((st) => ({ settings: { ...st.settings, styleUrl } }));
  const fromUrl = url.get('world_to_ecef');
  const urlMatrix = fromUrl ? parseMatrix4(safeJson(fromUrl)) : null;
  const savedMatrix = s.matrix ? parseMatrix4(s.matrix) : null;
  if (urlMatrix) setMatrix(urlMatrix, 'url');
  else if (savedMatrix) setMatrix(savedMatrix, 'settings');

  const fromHash = () =>
    initialToken(sessionStorage, location.hash, (h) => history.replaceState(null, '', location.pathname + location.search + h));
  const token = fromHash();
  if (token) startSession(token);
  // A #token= link opened while the page is already up.
  window.addEventListener('hashchange', () => {
    const before = useUi.getState().token;
    const t = fromHash();
    if (t && t !== before) startSession(t);
  });
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}

export function startSession(token: string): void {
  saveToken(sessionStorage, token);
  useUi.setState({ token, authMessage: '' });
  socket?.close();
  socket = new FleetSocket(wsUrl(location, token), {
    onMessage: (m) => {
      receive(m);
      if (m.type === 'snapshot') void loadHistory();
    },
    onState: (connection, connectionDetail) => useUi.setState({ connection, connectionDetail }),
    onUnauthorized: (reason) => endSession(`The operator refused the token (${reason}). Sign in again.`),
  });
  socket.start();
  void loadServerMatrix();
}

export function endSession(message: string): void {
  socket?.close();
  socket = null;
  clearToken(sessionStorage);
  signOut(message);
}

/** Recent alerts of any status, so that the list's history filters show something. */
async function loadHistory(): Promise<void> {
  try {
    const page = await api.alerts('limit=200');
    fleet.mergeAlerts(page.alerts);
    touch();
  } catch {
    /* the live list still works; the connection indicator tells the rest */
  }
}

/** The dataset's own world_to_ecef, if the server offers it (not in the contract yet). */
async function loadServerMatrix(): Promise<void> {
  if (useUi.getState().settings.matrixSource !== 'default') return;
  try {
    const r = await api.scenes();
    const m = parseMatrix4(r.world_to_ecef);
    if (m && useUi.getState().settings.matrixSource === 'default') setMatrix(m, 'server');
  } catch {
    /* keep the default matrix */
  }
}

export function saveSettings(styleUrl: string, matrix: Matrix4 | null): void {
  const s: SavedSettings = { styleUrl };
  if (matrix) s.matrix = matrix;
  localStorage.setItem(SETTINGS_KEY, JSON.stringify(s));
  useUi.setState((st) => ({ settings: { ...st.settings, styleUrl } as Settings }));
  if (matrix) setMatrix(matrix, 'settings');
}
