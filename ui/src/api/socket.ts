/*
 * The /ws connection: opens `ws(s)://<host>/ws?token=...`, hands every
 * parsed message to `onMessage`, and reconnects by itself with backoff
 * (lib/backoff.ts) whenever the socket closes, except on 4401 (bad token:
 * `onUnauthorized`) or after close(). Each reconnect gets a fresh snapshot
 * from the server, which FleetState applies. Main thread only.
 */
import type { ServerMessage } from './types';
import { backoffDelay, closeVerdict, DEFAULT_BACKOFF, type BackoffOptions } from '../lib/backoff';

export type ConnectionState = 'connecting' | 'open' | 'closed';

export interface SocketHandlers {
  onMessage: (m: ServerMessage) => void;
  onState: (s: ConnectionState, detail: string) => void;
  onUnauthorized: (reason: string) => void;
}

export function wsUrl(loc: Pick<Location, 'protocol' | 'host'>, token: string): string {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}/ws?token=${encodeURIComponent(token)}`;
}

export class FleetSocket {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly h: SocketHandlers,
    private readonly backoff: BackoffOptions = DEFAULT_BACKOFF,
  ) {}

  start(): void {
    this.stopped = false;
    this.open();
  }

  close(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.close(1000, 'client closed');
    }
  }

  private open(): void {
    this.h.onState('connecting', this.attempt ? `attempt ${this.attempt + 1}` : '');
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.h.onState('open', '');
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data !== 'string') return;
      let m: ServerMessage;
      try {
        m = JSON.parse(ev.data) as ServerMessage;
      } catch {
        return;
      }
      if (m && typeof m === 'object' && typeof m.type === 'string') this.h.onMessage(m);
    };
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws !== ws || this.stopped) return;
      this.ws = null;
      if (closeVerdict(ev.code) === 'reauth') {
        this.stopped = true;
        this.h.onState('closed', 'invalid token');
        this.h.onUnauthorized(ev.reason || 'invalid token');
        return;
      }
      const delay = backoffDelay(this.attempt++, this.backoff);
      this.h.onState('closed', `closed (${ev.code}${ev.reason ? ` ${ev.reason}` : ''}), retrying in ${(delay / 1000).toFixed(1)} s`);
      this.timer = setTimeout(() => {
        this.timer = null;
        if (!this.stopped) this.open();
      }, delay);
    };
  }
}
