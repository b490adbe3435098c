/*
 * REST calls to fleetops-operator (same origin). Every POST carries the
 * bearer token; an answer that is not 2xx becomes an ApiError holding the
 * status and the server's {"error": ...} text, so callers can show it.
 * A 401 also calls the unauthorized handler (back to the login form).
 */
import type {
  ActionResponse,
  ActionType,
  Alert,
  AlertDetailResponse,
  Replay,
  ScenesResponse,
  VehicleDetailResponse,
} from './types';
import type { ActionButton } from '../lib/lifecycle';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ApiConfig {
  base: string;
  token: () => string | null;
  onUnauthorized: (message: string) => void;
}

let config: ApiConfig = { base: '', token: () => null, onUnauthorized: () => {} };

export function configureApi(c: ApiConfig): void {
  config = c;
}

async function request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (method === 'POST') {
    const t = config.token();
    if (t) headers.Authorization = `Bearer ${t}`;
    headers['Content-Type'] = 'application/json';
  }
  let res: Response;
  try {
    res = await fetch(config.base + path, {
      method,
      headers,
      body: method === 'POST' ? JSON.stringify(body ?? {}) : undefined,
    });
  } catch (e) {
    throw new ApiError(0, `${method} ${path}: operator unreachable (${(e as Error).message})`, null);
  }
  const text = await res.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const err =
      json && typeof json === 'object' && 'error' in json && typeof (json as { error: unknown }).error === 'string'
        ? (json as { error: string }).error
        : text.slice(0, 200) || res.statusText;
    const msg = `${method} ${path}: ${res.status} ${err}`;
    if (res.status === 401) config.onUnauthorized(`Signed out: ${err}`);
    throw new ApiError(res.status, msg, json);
  }
  return json as T;
}

const enc = encodeURIComponent;

export const api = {
  alerts: (query = 'limit=200') => request<{ alerts: Alert[]; next_cursor: string | null }>('GET', `/alerts?${query}`),
  alert: (id: string) => request<AlertDetailResponse>('GET', `/alerts/${enc(id)}`),
  vehicle: (id: string) => request<VehicleDetailResponse>('GET', `/vehicles/${enc(id)}`),
  act: (alertId: string, b: ActionButton, note?: string) => {
    const body: { action_type?: ActionType; note?: string } = {};
    if (b.endpoint === 'actions') body.action_type = b.type;
    if (note) body.note = note;
    return request<ActionResponse>('POST', `/alerts/${enc(alertId)}/${b.endpoint}`, body);
  },
  scenes: () => request<ScenesResponse>('GET', '/replay/scenes'),
  replays: () => request<{ replays: Replay[] }>('GET', '/replay/status'),
  startReplay: (scenes: string, speed: number | 'max') =>
    request<Replay>('POST', '/replay/start', { scenes, speed }),
  stopReplay: (replayId: string | number) => request<Replay>('POST', '/replay/stop', { replay_id: replayId }),
};
