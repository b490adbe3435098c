/*
 * GeoJSON for the map from FleetState: one point per positioned vehicle
 * (state, open-alert flag, selection as properties), one line per trail,
 * and a metric grid laid out in the dataset frame (so that it reads in
 * metres wherever world_to_ecef puts it). Pure functions; called by the
 * map at most once per animation frame.
 */
import type { FeatureCollection, LineString, Point } from 'geojson';
import type { FleetState } from '../state/fleet';
import { type Matrix4, worldToLngLat } from '../lib/geo';

export interface VehicleProps {
  id: string;
  state: string;
  alerting: 0 | 1;
  selected: 0 | 1;
}

export function vehicleFeatures(f: FleetState, selectedId: string | null): FeatureCollection<Point, VehicleProps> {
  const open = f.openAlertsByVehicle();
  const features: FeatureCollection<Point, VehicleProps>['features'] = [];
  for (const v of f.vehicles.values()) {
    if (!v.lngLat) continue;
    features.push({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: v.lngLat },
      properties: {
        id: v.vehicle_id,
        state: v.state,
        // The server's count covers alerts beyond the snapshot's; ours is the fresher.
        alerting: (open.get(v.vehicle_id) ?? 0) > 0 || v.open_alerts > 0 ? 1 : 0,
        selected: v.vehicle_id === selectedId ? 1 : 0,
      },
    });
  }
  return { type: 'FeatureCollection', features };
}

export function trailFeatures(f: FleetState): FeatureCollection<LineString, { id: string; state: string }> {
  const features: FeatureCollection<LineString, { id: string; state: string }>['features'] = [];
  for (const v of f.vehicles.values()) {
    if (v.trail.length < 2) continue;
    features.push({
      type: 'Feature',
      geometry: { type: 'LineString', coordinates: v.trail },
      properties: { id: v.vehicle_id, state: v.state },
    });
  }
  return { type: 'FeatureCollection', features };
}

export interface Extent {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

/** The metric bounding box of the positioned vehicles, or null when there are none. */
export function metricExtent(f: FleetState): Extent | null {
  let e: Extent | null = null;
  for (const v of f.vehicles.values()) {
    if (v.x == null || v.y == null) continue;
    if (!e) e = { minX: v.x, minY: v.y, maxX: v.x, maxY: v.y };
    else {
      e.minX = Math.min(e.minX, v.x);
      e.minY = Math.min(e.minY, v.y);
      e.maxX = Math.max(e.maxX, v.x);
      e.maxY = Math.max(e.maxY, v.y);
    }
  }
  return e;
}

/**
 * The extent snapped outwards to whole `cell` metres with one cell of
 * margin, so that the grid only changes when vehicles leave it.
 */
export function gridExtent(e: Extent | null, cell = 500): Extent {
  const b = e ?? { minX: 0, minY: 0, maxX: 0, maxY: 0 };
  return {
    minX: Math.floor(b.minX / cell) * cell - cell,
    minY: Math.floor(b.minY / cell) * cell - cell,
    maxX: Math.ceil(b.maxX / cell) * cell + cell,
    maxY: Math.ceil(b.maxY / cell) * cell + cell,
  };
}

/** Grid lines every `step` metres (major every 5 steps), at most ~400 lines. */
export function gridFeatures(m: Matrix4, e: Extent): FeatureCollection<LineString, { major: 0 | 1 }> {
  const span = Math.max(e.maxX - e.minX, e.maxY - e.minY);
  let step = 100;
  while (span / step > 200) step *= 5;
  const features: FeatureCollection<LineString, { major: 0 | 1 }>['features'] = [];
  const line = (a: [number, number], b: [number, number], major: boolean) =>
    features.push({
      type: 'Feature',
      geometry: { type: 'LineString', coordinates: [worldToLngLat(m, a[0], a[1]), worldToLngLat(m, b[0], b[1])] },
      properties: { major: major ? 1 : 0 },
    });
  for (let x = Math.ceil(e.minX / step) * step; x <= e.maxX; x += step)
    line([x, e.minY], [x, e.maxY], Math.round(x / step) % 5 === 0);
  for (let y = Math.ceil(e.minY / step) * step; y <= e.maxY; y += step)
    line([e.minX, y], [e.maxX, y], Math.round(y / step) % 5 === 0);
  return { type: 'FeatureCollection', features };
}
