import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { backoffDelay, closeVerdict } from '../src/lib/backoff';
import { FleetSocket, wsUrl, type ConnectionState } from '../src/api/socket';
import type { ServerMessage } from '../src/api/types';

describe('backoffDelay', () => {
  const fixed = (r: number) => ({ baseMs: 500, maxMs: 10_000, random: () => r });
  it('doubles from the base and stops at the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, fixed(1)))).toEqual([500, 1000, 2000, 4000, 8000, 10000, 10000]);
  });
  it('jitters between half and all of the step', () => {
    expect(backoffDelay(3, fixed(0))).toBe(2000);
    expect(backoffDelay(3, fixed(0.5))).toBe(3000);
    expect(backoffDelay(1000, fixed(0))).toBe(5000);
  });
  it('4401 asks for a new sign-in, other closes are retried', () => {
    expect(closeVerdict(4401)).toBe('reauth');
    for (const c of [1000, 1001, 1006, 1008, 1011]) expect(closeVerdict(c)).toBe('retry');
  });
});

class FakeWs {
  static all: FakeWs[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  closed = false;
  constructor(readonly url: string) {
    FakeWs.all.push(this);
  }
  close() {
    this.closed = true;
  }
}

describe('FleetSocket', () => {
  beforeEach(() => {
    FakeWs.all = [];
    vi.useFakeTimers();
    vi.stubGlobal('WebSocket', FakeWs);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  const make = () => {
    const states: ConnectionState[] = [];
    const msgs: ServerMessage[] = [];
    const unauth: string[] = [];
    const s = new FleetSocket(
      'ws://h/ws?token=t',
      { onMessage: (m) => msgs.push(m), onState: (st) => states.push(st), onUnauthorized: (r) => unauth.push(r) },
      { baseMs: 100, maxMs: 1000, random: () => 1 },
    );
    return { s, states, msgs, unauth };
  };

  it('reconnects with growing delays until it opens, then starts over', () => {
    const { s, states } = make();
    s.start();
    expect(FakeWs.all).toHaveLength(1);
    FakeWs.all[0]!.onclose!({ code: 1006, reason: '' });
    vi.advanceTimersByTime(99);
    expect(FakeWs.all).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeWs.all).toHaveLength(2);
    FakeWs.all[1]!.onclose!({ code: 1006, reason: '' });
    vi.advanceTimersByTime(199);
    expect(FakeWs.all).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(FakeWs.all).toHaveLength(3);
    FakeWs.all[2]!.onopen!();
    expect(states.at(-1)).toBe('open');
    FakeWs.all[2]!.onclose!({ code: 1001, reason: 'server stopping' });
    vi.advanceTimersByTime(100);
    expect(FakeWs.all).toHaveLength(4); // back to the base delay after a success
    s.close();
  });

  it('passes messages on and ignores what is not JSON', () => {
    const { s, msgs } = make();
    s.start();
    const ws = FakeWs.all[0]!;
    ws.onmessage!({ data: 'not json' });
    ws.onmessage!({ data: '{"no":"type"}' });
    ws.onmessage!({ data: '{"type":"vehicle_updated","vehicles":[]}' });
    expect(msgs).toEqual([{ type: 'vehicle_updated', vehicles: [] }]);
    s.close();
  });

  it('4401 stops retrying and reports the reason', () => {
    const { s, unauth } = make();
    s.start();
    FakeWs.all[0]!.onclose!({ code: 4401, reason: 'invalid token' });
    vi.advanceTimersByTime(60_000);
    expect(FakeWs.all).toHaveLength(1);
    expect(unauth).toEqual(['invalid token']);
    s.close();
  });

  it('close() cancels a pending reconnect', () => {
    const { s } = make();
    s.start();
    FakeWs.all[0]!.onclose!({ code: 1006, reason: '' });
    s.close();
    vi.advanceTimersByTime(60_000);
    expect(FakeWs.all).toHaveLength(1);
  });

  it('builds ws and wss URLs with the token escaped', () => {
    expect(wsUrl({ protocol: 'http:', host: '127.0.0.1:8080' }, 'a b/c')).toBe('ws://127.0.0.1:8080/ws?token=a%20b%2Fc');
    expect(wsUrl({ protocol: 'https:', host: 'ops.example' }, 't')).toBe('wss://ops.example/ws?token=t');
  });
});
