import { describe, expect, it } from 'vitest';
import { compareFeatures, fmt } from '../src/lib/evidence';

describe('features against thresholds', () => {
  it('pairs the detector\'s names and says which were exceeded', () => {
    const r = compareFeatures(
      { acceleration_magnitude: 7.2, velocity_delta: -4.1, speed: 3, window_frames: 10 },
      { decel_accel: 4, decel_dv: -3, decel_critical: 8 },
    );
    expect(r.rows).toEqual([
      { threshold: 'decel_accel', feature: 'acceleration_magnitude', value: 7.2, limit: 4, op: '>', exceeded: true },
      { threshold: 'decel_dv', feature: 'velocity_delta', value: -4.1, limit: -3, op: '<', exceeded: true },
      { threshold: 'decel_critical', feature: 'acceleration_magnitude', value: 7.2, limit: 8, op: '>=', exceeded: false },
    ]);
    expect(r.others).toEqual([
      ['speed', 3],
      ['window_frames', 10],
    ]);
  });
  it('unknown names pair by name or stand alone', () => {
    const r = compareFeatures({ wobble: 2 }, { wobble: 1, mystery: 5 });
    expect(r.rows[0]).toMatchObject({ feature: 'wobble', exceeded: true });
    expect(r.rows[1]).toMatchObject({ feature: null, value: null, exceeded: null });
    expect(compareFeatures(null, null)).toEqual({ rows: [], others: [] });
  });
  it('formats numbers briefly', () => {
    expect(fmt(3)).toBe('3');
    expect(fmt(3.14159)).toBe('3.142');
    expect(fmt(2.5)).toBe('2.5');
    expect(fmt(null)).toBe('–');
    expect(fmt(Number.NaN)).toBe('–');
  });
});
