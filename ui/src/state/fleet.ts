/*
 * FleetState: everything the dashboard knows from the operator, kept
 * outside React. Alerts by id, vehicles by id (with their WGS84 position
 * and a short trail), live actions by alert, the last stats. Messages from
 * /ws are applied in arrival order and may repeat what is already known:
 * an alert is replaced only by one at least as new (updated_at), actions
 * are deduplicated by action_id. Every change bumps a version counter so
 * that readers (the map once per animation frame, React panels a few
 * times a second) can tell whether to redraw. Single-threaded (the page's
 * main thread); no I/O.
 */
import type { Action, Alert, ServerMessage, Stats, Vehicle } from '../api/types';
import { isActive } from '../lib/lifecycle';
import { SEVERITY_RANK } from '../lib/alerts';
import { DEFAULT_WORLD_TO_ECEF, type Matrix4, worldToLngLat } from '../lib/geo';

export type LngLat = [number, number];

export interface VehicleRecord extends Vehicle {
  /** WGS84 position, null while x/y are unknown. */
  lngLat: LngLat | null;
  /** Recent positions, oldest first, the current one last. */
  trail: LngLat[];
}

export interface FleetOptions {
  /**
   * Alerts held at most; past it closed ones go first, then open INFO,
   * WARNING, CRITICAL, oldest first within each; pinned ones (the
   * selection) stay. The server's snapshot itself carries at most the
   * newest 5,000 open alerts. Bounds memory and the list's sort.
   */
  maxAlerts: number;
  trailLength: number;
  /** A jump longer than this (metres) starts a new trail (a new replay or scene). */
  trailBreakMetres: number;
  matrix: Matrix4;
}

export const DEFAULT_FLEET_OPTIONS: FleetOptions = {
  maxAlerts: 10_000,
  trailLength: 20,
  trailBreakMetres: 150,
  matrix: DEFAULT_WORLD_TO_ECEF,
};

function timeOf(iso: string | null | undefined): number {
  if (!iso) return Number.NEGATIVE_INFINITY;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? Number.NEGATIVE_INFINITY : t;
}

export class FleetState {
  readonly alerts = new Map<string, Alert>();
  readonly vehicles = new Map<string, VehicleRecord>();
  readonly actions = new Map<string, Action[]>();
  stats: Stats | null = null;
  alertsVersion = 0;
  vehiclesVersion = 0;
  /** Bumped only when some vehicle's state changes (the map shows those at once). */
  statesVersion = 0;
  actionsVersion = 0;
  statsVersion = 0;
  private opts: FleetOptions;
  private openByVehicle: Map<string, number> | null = null;
  private pinned = new Set<string>();

  constructor(opts: Partial<FleetOptions> = {}) {
    this.opts = { ...DEFAULT_FLEET_OPTIONS, ...opts };
  }

  get matrix(): Matrix4 {
    return this.opts.matrix;
  }

  /** A new world_to_ecef: every position is recomputed, trails restart. */
  setMatrix(m: Matrix4): void {
    this.opts = { ...this.opts, matrix: m };
    for (const v of this.vehicles.values()) {
      v.lngLat = v.x != null && v.y != null ? worldToLngLat(m, v.x, v.y) : null;
      v.trail = v.lngLat ? [v.lngLat] : [];
    }
    this.vehiclesVersion++;
  }

  /** Applies one /ws message. */
  apply(msg: ServerMessage): void {
    switch (msg.type) {
      case 'snapshot':
        this.applySnapshot(msg.alerts, msg.vehicles);
        break;
      case 'alert_created':
        for (const a of msg.alerts ?? []) this.applyAlert(a);
        if (msg.alert) this.applyAlert(msg.alert);
        break;
      case 'alert_updated':
        this.applyAlert(msg.alert);
        break;
      case 'vehicle_updated':
        this.applyVehicles(msg.vehicles);
        break;
      case 'action_executed':
        this.applyAction(msg.action);
        break;
      case 'stats': {
        const { type: _type, ...stats } = msg;
        this.stats = stats;
        this.statsVersion++;
        break;
      }
    }
  }

  /**
   * The snapshot sent on every (re)connect: the open alerts and every
   * known vehicle. Active alerts we hold that it lacks were closed while we
   * were away and are dropped (their final state is unknown); closed ones
   * we saw are kept for the list's history. Vehicles it lacks are dropped.
   */
  applySnapshot(alerts: readonly Alert[], vehicles: readonly Vehicle[]): void {
    const inSnapshot = new Set(alerts.map((a) => a.alert_id));
    for (const [id, a] of this.alerts) if (isActive(a.alert_status) && !inSnapshot.has(id)) this.alerts.delete(id);
    for (const a of alerts) this.alerts.set(a.alert_id, a);
    this.touchAlerts();

    const keep = new Set(vehicles.map((v) => v.vehicle_id));
    for (const id of this.vehicles.keys()) if (!keep.has(id)) this.vehicles.delete(id);
    this.applyVehicles(vehicles);
  }

  /** Inserts or replaces an alert unless we hold a newer one; returns whether it changed. */
  applyAlert(a: Alert): boolean {
    const cur = this.alerts.get(a.alert_id);
    if (cur && timeOf(cur.updated_at) > timeOf(a.updated_at)) return false;
    this.alerts.set(a.alert_id, a);
    this.touchAlerts();
    return true;
  }

  /** Alerts from a REST page (history): only fills in what /ws has not told us. */
  mergeAlerts(list: readonly Alert[]): void {
    let changed = false;
    for (const a of list) {
      const cur = this.alerts.get(a.alert_id);
      if (cur && timeOf(cur.updated_at) >= timeOf(a.updated_at)) continue;
      this.alerts.set(a.alert_id, a);
      changed = true;
    }
    if (changed) this.touchAlerts();
  }

  applyAction(a: Action): boolean {
    const cur = this.actions.get(a.alert_id) ?? [];
    if (cur.some((x) => x.action_id === a.action_id)) return false;
    // A new array each time: readers compare by reference.
    const list = [...cur, a];
    list.sort((p, q) => timeOf(p.created_at) - timeOf(q.created_at));
    this.actions.set(a.alert_id, list);
    this.actionsVersion++;
    return true;
  }

  /** A batch of changed vehicles (vehicle_updated, or the snapshot's). */
  applyVehicles(batch: readonly Vehicle[]): void {
    const { matrix, trailLength, trailBreakMetres } = this.opts;
    for (const v of batch) {
      const cur = this.vehicles.get(v.vehicle_id);
      // A vehicle known only from alerts has no position: keep the last one.
      const hasPos = v.x != null && v.y != null;
      const x = hasPos ? v.x : (cur?.x ?? null);
      const y = hasPos ? v.y : (cur?.y ?? null);
      const lngLat: LngLat | null = hasPos ? worldToLngLat(matrix, v.x!, v.y!) : (cur?.lngLat ?? null);
      let trail = cur?.trail ?? [];
      if (hasPos && lngLat) {
        const restart =
          !cur ||
          cur.x == null ||
          cur.y == null ||
          cur.scene_id !== v.scene_id ||
          (cur.frame_index != null && v.frame_index != null && v.frame_index < cur.frame_index) ||
          Math.hypot(v.x! - cur.x, v.y! - cur.y) > trailBreakMetres;
        if (restart) trail = [lngLat];
        else if (v.x !== cur.x || v.y !== cur.y) {
          trail = trail.length >= trailLength ? trail.slice(trail.length - trailLength + 1) : trail.slice();
          trail.push(lngLat);
        }
      }
      if (cur && v.state !== undefined && cur.state !== v.state) this.statesVersion++;
      this.vehicles.set(v.vehicle_id, { ...cur, ...v, x, y, lngLat, trail });
    }
    if (batch.length > 0) this.vehiclesVersion++;
  }

  /** Alerts that the memory bound must not evict (the selected one). */
  setPinned(ids: Iterable<string>): void {
    this.pinned = new Set(ids);
  }

  /** Count of OPEN and ACKNOWLEDGED alerts per vehicle, from the alerts held. */
  openAlertsByVehicle(): Map<string, number> {
    if (!this.openByVehicle) {
      const m = new Map<string, number>();
      for (const a of this.alerts.values())
        if (isActive(a.alert_status)) m.set(a.vehicle_id, (m.get(a.vehicle_id) ?? 0) + 1);
      this.openByVehicle = m;
    }
    return this.openByVehicle;
  }

  private touchAlerts(): void {
    this.openByVehicle = null;
    this.alertsVersion++;
    if (this.alerts.size > this.opts.maxAlerts) this.evictAlerts();
  }

  /** Down to 90% of maxAlerts, least important first (see maxAlerts). */
  private evictAlerts(): void {
    const keep = Math.floor(this.opts.maxAlerts * 0.9);
    const order = [...this.alerts.values()]
      .filter((a) => !this.pinned.has(a.alert_id))
      .sort(
        (a, b) =>
          Number(isActive(a.alert_status)) - Number(isActive(b.alert_status)) ||
          SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] ||
          timeOf(a.created_at) - timeOf(b.created_at),
      );
    for (let i = 0; i < order.length && this.alerts.size > keep; i++) {
      const a = order[i]!;
      this.alerts.delete(a.alert_id);
      this.actions.delete(a.alert_id);
    }
  }
}
