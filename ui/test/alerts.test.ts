import { describe, expect, it } from 'vitest';
import { compareAlerts, DEFAULT_FILTER, matchesFilter, visibleAlerts } from '../src/lib/alerts';
import { alert } from './fixtures';

describe('alert ordering', () => {
  it('most severe first, then newest raised, then newest event, then id', () => {
    const at = (m: number) => `2026-11-23T12:${String(m).padStart(2, '0')}:00.000Z`;
    const list = [
      alert({ alert_id: 'w-old', severity: 'WARNING', created_at: at(0) }),
      alert({ alert_id: 'i-new', severity: 'INFO', created_at: at(9) }),
      alert({ alert_id: 'c-old', severity: 'CRITICAL', created_at: at(1), event_time: '2019-10-23T16:09:00.000Z' }),
      alert({ alert_id: 'w-new', severity: 'WARNING', created_at: at(5) }),
      // raised now, from a replay of old data: newest despite its event_time
      alert({ alert_id: 'c-new', severity: 'CRITICAL', created_at: at(7), event_time: '2019-10-23T16:00:00.000Z' }),
      alert({ alert_id: 'c-new2', severity: 'CRITICAL', created_at: at(7), event_time: '2019-10-23T16:01:00.000Z' }),
    ];
    expect(visibleAlerts(list, { statuses: [], severities: [] }).rows.map((a) => a.alert_id)).toEqual([
      'c-new2',
      'c-new',
      'c-old',
      'w-new',
      'w-old',
      'i-new',
    ]);
  });
  it('is a total order (ties broken by id)', () => {
    const a = alert({ alert_id: 'a' });
    const b = alert({ alert_id: 'b' });
    expect(compareAlerts(a, b)).toBeLessThan(0);
    expect(compareAlerts(b, a)).toBeGreaterThan(0);
    expect(compareAlerts(a, a)).toBe(0);
  });
});

describe('alert filtering', () => {
  const list = [
    alert({ alert_id: '1', alert_status: 'OPEN', severity: 'CRITICAL' }),
    alert({ alert_id: '2', alert_status: 'ACKNOWLEDGED', severity: 'INFO' }),
    alert({ alert_id: '3', alert_status: 'RESOLVED', severity: 'CRITICAL' }),
    alert({ alert_id: '4', alert_status: 'DISMISSED', severity: 'WARNING' }),
  ];
  it('by default shows the active ones', () => {
    expect(visibleAlerts(list, DEFAULT_FILTER).rows.map((a) => a.alert_id)).toEqual(['1', '2']);
  });
  it('by status and severity together', () => {
    expect(visibleAlerts(list, { statuses: ['OPEN', 'RESOLVED'], severities: ['CRITICAL'] }).rows.map((a) => a.alert_id)).toEqual(['1', '3']);
    expect(matchesFilter(list[3]!, { statuses: [], severities: ['WARNING'] })).toBe(true);
    expect(matchesFilter(list[3]!, { statuses: ['OPEN'], severities: ['WARNING'] })).toBe(false);
  });
  it('by part of the vehicle id', () => {
    const l = [alert({ alert_id: 'a', vehicle_id: 'scene_001_track_8' }), alert({ alert_id: 'b', vehicle_id: 'scene_002_ego' })];
    expect(visibleAlerts(l, { statuses: [], severities: [], vehicle: 'TRACK_8' }).rows.map((a) => a.alert_id)).toEqual(['a']);
    expect(visibleAlerts(l, { statuses: [], severities: [], vehicle: '' }).total).toBe(2);
  });
  it('caps the list', () => {
    const many = Array.from({ length: 30 }, (_, i) => alert({ alert_id: `x${i}` }));
    const v = visibleAlerts(many, DEFAULT_FILTER, 10);
    expect(v.rows).toHaveLength(10);
    expect(v.total).toBe(30);
  });
});
