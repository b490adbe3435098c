/*
 * Alert ordering and filtering for the list: most severe first, then
 * newest raised (created_at: replays carry the data's own event times, so
 * a fresh alert may have an old event_time), then event_time, then id so
 * the order is total and stable. Pure functions over arrays.
 */
import type { Alert, AlertStatus, Severity } from '../api/types';

export const SEVERITY_RANK: Record<Severity, number> = { CRITICAL: 0, WARNING: 1, INFO: 2 };

export interface AlertFilter {
  /** Statuses to show; empty shows all. */
  statuses: readonly AlertStatus[];
  /** Severities to show; empty shows all. */
  severities: readonly Severity[];
  /** Part of the vehicle id (case-insensitive); empty shows all. */
  vehicle?: string;
}

export const DEFAULT_FILTER: AlertFilter = { statuses: ['OPEN', 'ACKNOWLEDGED'], severities: [], vehicle: '' };

export function compareAlerts(a: Alert, b: Alert): number {
  const s = SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity];
  if (s !== 0) return s;
  if (a.created_at !== b.created_at) return a.created_at < b.created_at ? 1 : -1;
  if (a.event_time !== b.event_time) return a.event_time < b.event_time ? 1 : -1;
  return a.alert_id < b.alert_id ? -1 : a.alert_id > b.alert_id ? 1 : 0;
}

export function matchesFilter(a: Alert, f: AlertFilter): boolean {
  return (
    (f.statuses.length === 0 || f.statuses.includes(a.alert_status)) &&
    (f.severities.length === 0 || f.severities.includes(a.severity)) &&
    (!f.vehicle || a.vehicle_id.toLowerCase().includes(f.vehicle.toLowerCase()))
  );
}

export interface VisibleAlerts {
  /** The first `limit` matching alerts, in list order. */
  rows: Alert[];
  /** How many alerts match in all. */
  total: number;
}

export function visibleAlerts(all: Iterable<Alert>, f: AlertFilter, limit = 500): VisibleAlerts {
  const out: Alert[] = [];
  for (const a of all) if (matchesFilter(a, f)) out.push(a);
  out.sort(compareAlerts);
  return { rows: out.length > limit ? out.slice(0, limit) : out, total: out.length };
}
