import { describe, expect, it } from 'vitest';
import { FleetState } from '../src/state/fleet';
import { alert, vehicle } from './fixtures';

describe('alerts by id', () => {
  it('snapshot then alert_created/updated: newest wins, repeats change nothing', () => {
    const f = new FleetState();
    f.apply({ type: 'snapshot', alerts: [alert()], vehicles: [], server_time: '2026-11-23T12:00:02.000Z' });
    expect(f.alerts.size).toBe(1);
    // the same alert again from alert_created (the snapshot may repeat it)
    f.apply({ type: 'alert_created', alerts: [alert()] });
    expect(f.alerts.size).toBe(1);

    const acked = alert({ alert_status: 'ACKNOWLEDGED', updated_at: '2026-11-23T12:00:05.000Z' });
    f.apply({ type: 'alert_updated', alert: acked });
    expect(f.alerts.get('a1')!.alert_status).toBe('ACKNOWLEDGED');

    // a late, older copy must not roll it back
    const v = f.alertsVersion;
    f.apply({ type: 'alert_created', alerts: [alert()] });
    expect(f.alerts.get('a1')!.alert_status).toBe('ACKNOWLEDGED');
    expect(f.alertsVersion).toBe(v);

    // applying the same update twice is idempotent
    f.apply({ type: 'alert_updated', alert: acked });
    f.apply({ type: 'alert_updated', alert: acked });
    expect([...f.alerts.values()]).toEqual([acked]);
  });

  it('alert_created carries the alerts of one transaction (or one alert)', () => {
    const f = new FleetState();
    f.apply({ type: 'alert_created', alerts: [alert({ alert_id: 'x' }), alert({ alert_id: 'y' }), alert({ alert_id: 'x' })] });
    f.apply({ type: 'alert_created', alert: alert({ alert_id: 'z' }) });
    expect([...f.alerts.keys()].sort()).toEqual(['x', 'y', 'z']);
  });

  it('a reconnect snapshot drops active alerts it lacks and keeps closed history', () => {
    const f = new FleetState();
    f.applySnapshot([alert({ alert_id: 'a1' }), alert({ alert_id: 'a2' })], []);
    f.applyAlert(alert({ alert_id: 'a3', alert_status: 'RESOLVED', updated_at: '2026-11-23T12:01:00.000Z' }));
    f.applySnapshot([alert({ alert_id: 'a2' }), alert({ alert_id: 'a4' })], []);
    expect([...f.alerts.keys()].sort()).toEqual(['a2', 'a3', 'a4']);
  });

  it('REST history fills in but never overrides a newer live alert', () => {
    const f = new FleetState();
    f.applyAlert(alert({ alert_status: 'RESOLVED', updated_at: '2026-11-23T12:02:00.000Z' }));
    f.mergeAlerts([alert({ alert_status: 'OPEN' }), alert({ alert_id: 'old', alert_status: 'DISMISSED' })]);
    expect(f.alerts.get('a1')!.alert_status).toBe('RESOLVED');
    expect(f.alerts.get('old')!.alert_status).toBe('DISMISSED');
  });

  it('counts open alerts per vehicle from the alerts held', () => {
    const f = new FleetState();
    f.applySnapshot(
      [
        alert({ alert_id: 'a', vehicle_id: 'v1' }),
        alert({ alert_id: 'b', vehicle_id: 'v1', alert_status: 'ACKNOWLEDGED' }),
        alert({ alert_id: 'c', vehicle_id: 'v2' }),
      ],
      [],
    );
    expect(f.openAlertsByVehicle().get('v1')).toBe(2);
    f.applyAlert(alert({ alert_id: 'c', vehicle_id: 'v2', alert_status: 'RESOLVED', updated_at: '2026-11-23T13:00:00.000Z' }));
    expect(f.openAlertsByVehicle().get('v2')).toBeUndefined();
  });
});

describe('alert memory bound', () => {
  const at = (i: number) => `2026-11-23T12:00:${String(i).padStart(2, '0')}.000Z`;

  it('evicts closed alerts first, then open INFO, WARNING, CRITICAL, oldest first', () => {
    const f = new FleetState({ maxAlerts: 10 });
    for (let i = 0; i < 3; i++) f.applyAlert(alert({ alert_id: `closed${i}`, alert_status: 'RESOLVED', created_at: at(i), updated_at: at(i) }));
    for (let i = 0; i < 3; i++) f.applyAlert(alert({ alert_id: `crit${i}`, severity: 'CRITICAL', created_at: at(10 + i), updated_at: at(10 + i) }));
    for (let i = 0; i < 3; i++) f.applyAlert(alert({ alert_id: `info${i}`, severity: 'INFO', created_at: at(20 + i), updated_at: at(20 + i) }));
    f.applyAlert(alert({ alert_id: 'warn0', severity: 'WARNING', created_at: at(30), updated_at: at(30) }));
    f.applyAlert(alert({ alert_id: 'warn1', severity: 'WARNING', created_at: at(31), updated_at: at(31) }));
    // 11 > 10: down to 9, the two oldest closed ones go
    expect(f.alerts.size).toBe(9);
    expect([...f.alerts.keys()].filter((k) => k.startsWith('closed'))).toEqual(['closed2']);
    for (let i = 2; i < 6; i++) f.applyAlert(alert({ alert_id: `warn${i}`, severity: 'WARNING', created_at: at(30 + i), updated_at: at(30 + i) }));
    // closed2, then INFO (oldest first) made room; CRITICAL untouched
    expect(f.alerts.size).toBeLessThanOrEqual(10);
    expect(f.alerts.has('closed2')).toBe(false);
    expect(f.alerts.has('info0')).toBe(false);
    expect(['crit0', 'crit1', 'crit2', 'warn5'].every((k) => f.alerts.has(k))).toBe(true);
  });

  it('never evicts a pinned alert', () => {
    const f = new FleetState({ maxAlerts: 10 });
    f.applyAlert(alert({ alert_id: 'mine', severity: 'INFO', created_at: at(0), updated_at: at(0) }));
    f.setPinned(['mine']);
    for (let i = 1; i < 40; i++) f.applyAlert(alert({ alert_id: `x${i}`, severity: 'CRITICAL', created_at: at(i), updated_at: at(i) }));
    expect(f.alerts.size).toBeLessThanOrEqual(10);
    expect(f.alerts.has('mine')).toBe(true);
    expect(f.alerts.has('x39')).toBe(true);
  });
});

describe('actions', () => {
  it('are deduplicated by action_id and kept oldest first', () => {
    const f = new FleetState();
    const a = {
      action_id: 'x2',
      alert_id: 'a1',
      vehicle_id: 'v',
      operator_id: 1,
      operator_name: 'ana',
      action_type: 'RESOLVE' as const,
      metadata: {},
      created_at: '2026-11-23T12:00:09.000Z',
    };
    const b = { ...a, action_id: 'x1', action_type: 'ACKNOWLEDGE' as const, created_at: '2026-11-23T12:00:03.000Z' };
    expect(f.applyAction(a)).toBe(true);
    const before = f.actions.get('a1');
    expect(f.applyAction(b)).toBe(true);
    expect(f.applyAction(a)).toBe(false);
    expect(f.actions.get('a1')!.map((x) => x.action_id)).toEqual(['x1', 'x2']);
    expect(f.actions.get('a1')).not.toBe(before); // a new array: readers compare references
  });
});

describe('vehicle_updated batches', () => {
  it('apply by id, convert positions, keep a bounded trail', () => {
    const f = new FleetState({ trailLength: 5 });
    f.apply({ type: 'snapshot', alerts: [], vehicles: [vehicle({ vehicle_id: 'v1' }), vehicle({ vehicle_id: 'v2' })], server_time: '' });
    for (let i = 1; i <= 10; i++)
      f.apply({ type: 'vehicle_updated', vehicles: [vehicle({ vehicle_id: 'v1', x: i, y: i * 2, frame_index: i })] });
    const v1 = f.vehicles.get('v1')!;
    expect(v1.x).toBe(10);
    expect(v1.trail).toHaveLength(5);
    expect(v1.trail[4]).toEqual(v1.lngLat);
    expect(v1.lngLat![1]).toBeCloseTo(37.4294, 3);
    expect(f.vehicles.get('v2')!.trail).toHaveLength(1);
  });

  it('a repeated position does not grow the trail; a state change still applies', () => {
    const f = new FleetState();
    f.applyVehicles([vehicle({ x: 1, y: 1, frame_index: 1 })]);
    f.applyVehicles([vehicle({ x: 2, y: 1, frame_index: 2 })]);
    f.applyVehicles([vehicle({ x: 2, y: 1, frame_index: 2, state: 'UNDER_INTERVENTION' })]);
    const v = f.vehicles.get('scene_000_track_1')!;
    expect(v.trail).toHaveLength(2);
    expect(v.state).toBe('UNDER_INTERVENTION');
    expect(f.statesVersion).toBe(1); // only the state change counts
    f.applyVehicles([vehicle({ x: 3, y: 1, frame_index: 3, state: 'UNDER_INTERVENTION' })]);
    expect(f.statesVersion).toBe(1);
  });

  it('a jump, a new scene or an earlier frame starts a new trail', () => {
    const f = new FleetState();
    f.applyVehicles([vehicle({ x: 0, y: 0, frame_index: 10 })]);
    f.applyVehicles([vehicle({ x: 1, y: 0, frame_index: 11 })]);
    f.applyVehicles([vehicle({ x: 2, y: 0, frame_index: 3 })]); // replay restarted
    expect(f.vehicles.get('scene_000_track_1')!.trail).toHaveLength(1);
    f.applyVehicles([vehicle({ x: 3, y: 0, frame_index: 4 })]);
    f.applyVehicles([vehicle({ x: 900, y: 0, frame_index: 5 })]); // teleport
    expect(f.vehicles.get('scene_000_track_1')!.trail).toHaveLength(1);
  });

  it('a vehicle known only from alerts has no position, and a null position keeps the last one', () => {
    const f = new FleetState();
    f.applyVehicles([vehicle({ vehicle_id: 'ghost', x: null, y: null, speed: null })]);
    expect(f.vehicles.get('ghost')!.lngLat).toBeNull();
    f.applyVehicles([vehicle({ x: 5, y: 5 })]);
    f.applyVehicles([vehicle({ x: null, y: null, state: 'ALERTING' })]);
    const v = f.vehicles.get('scene_000_track_1')!;
    expect(v.x).toBe(5);
    expect(v.lngLat).not.toBeNull();
    expect(v.state).toBe('ALERTING');
  });

  it('a snapshot drops vehicles it does not list', () => {
    const f = new FleetState();
    f.applyVehicles([vehicle({ vehicle_id: 'a' }), vehicle({ vehicle_id: 'b' })]);
    f.applySnapshot([], [vehicle({ vehicle_id: 'b' })]);
    expect([...f.vehicles.keys()]).toEqual(['b']);
  });

  it('1,000 vehicles at a time apply in a few milliseconds (no quadratic work)', () => {
    const f = new FleetState();
    const batch = Array.from({ length: 1000 }, (_, i) => vehicle({ vehicle_id: `v${i}`, x: i, y: -i }));
    f.applyVehicles(batch);
    let best = Number.POSITIVE_INFINITY;
    for (let k = 1; k <= 20; k++) {
      const next = batch.map((v, i) => ({ ...v, x: i + k, frame_index: k }));
      const t0 = performance.now();
      f.applyVehicles(next);
      best = Math.min(best, performance.now() - t0);
    }
    expect(f.vehicles.size).toBe(1000);
    expect(f.vehicles.get('v0')!.trail).toHaveLength(20);
    // Best of 20 so that a busy machine does not fail it; typically ~1 ms.
    expect(best).toBeLessThan(50);
  });
});

describe('stats', () => {
  it('keeps the last stats message', () => {
    const f = new FleetState();
    f.apply({ type: 'stats', events_per_s: 1200, latency_p99_ms: 35, open_alerts: { INFO: 1, WARNING: 2, CRITICAL: 0 }, vehicles: 80 });
    expect(f.stats).toEqual({ events_per_s: 1200, latency_p99_ms: 35, open_alerts: { INFO: 1, WARNING: 2, CRITICAL: 0 }, vehicles: 80 });
  });
});
