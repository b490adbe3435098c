/*
 * window.__fleetops: a read-only view for tests and for people poking at
 * the console. It reports what was last handed to the map (vehicle
 * features and their properties), what MapLibre actually rendered
 * (queryRenderedFeatures on the vehicles layer), whether the map has
 * loaded, and the store's view of a vehicle or alert. Nothing on it
 * changes state.
 */
import type { FeatureCollection, Point } from 'geojson';
import type { Map as MlMap } from 'maplibre-gl';
import { fleet, useUi } from '../state/store';
import type { VehicleProps } from './features';
import { LAYER_VEHICLES } from './style';

/** Set once the map's style and the fleet layers are in. */
let map: MlMap | null = null;
let byId = new Map<string, VehicleProps & { lngLat: [number, number] }>();
let featureCount = 0;
let pushInterval = 0;
let software = false;
let frames = 0;
let pushes = 0;

export const probe = {
  setMap(m: MlMap | null): void {
    map = m;
  },
  countFrame(): void {
    frames++;
  },
  countPush(): void {
    pushes++;
  },
  setSoftware(v: boolean): void {
    software = v;
  },
  setPushInterval(ms: number): void {
    pushInterval = ms;
  },
  setVehicles(fc: FeatureCollection<Point, VehicleProps>): void {
    featureCount = fc.features.length;
    const m = new Map<string, VehicleProps & { lngLat: [number, number] }>();
    for (const f of fc.features)
      m.set(f.properties.id, { ...f.properties, lngLat: f.geometry.coordinates as [number, number] });
    byId = m;
  },
};

export interface FleetOpsProbe {
  readonly mapLoaded: boolean;
  /** Vehicle features last pushed to the map source. */
  readonly vehiclesOnMap: number;
  /** Vehicle circles MapLibre rendered in the current viewport. */
  renderedVehicles(): number;
  /** The map feature's properties for a vehicle, or null. */
  mapVehicle(id: string): (VehicleProps & { lngLat: [number, number] }) | null;
  /** Where a vehicle's circle is on screen (CSS pixels in the page), or null. */
  screenPoint(id: string): { x: number; y: number } | null;
  /** The store's record of a vehicle (state, position), or null. */
  vehicle(id: string): { state: string; x: number | null; y: number | null; open_alerts: number } | null;
  /** The store's record of an alert (status, severity, vehicle), or null. */
  alert(id: string): { alert_status: string; severity: string; vehicle_id: string } | null;
  readonly alerts: number;
  readonly vehicles: number;
  /** The map's current minimum interval between vehicle pushes (ms); 0 when unthrottled. */
  readonly pushIntervalMs: number;
  /** Whether WebGL runs on the CPU (animations are cut short then). */
  readonly softwareRenderer: boolean;
  /** Map frames rendered and vehicle pushes to the map since the page loaded. */
  readonly frames: number;
  readonly pushes: number;
  readonly connection: string;
}

export function installProbe(): void {
  if (typeof window === 'undefined' || '__fleetops' in window) return;
  const p: FleetOpsProbe = {
    get mapLoaded() {
      return !!map && !!map.getLayer(LAYER_VEHICLES);
    },
    get vehiclesOnMap() {
      return featureCount;
    },
    renderedVehicles() {
      if (!map || !map.getLayer(LAYER_VEHICLES)) return 0;
      // A circle near a tile edge is reported once per tile: count vehicles.
      return new Set(map.queryRenderedFeatures({ layers: [LAYER_VEHICLES] }).map((f) => f.properties?.id)).size;
    },
    mapVehicle(id) {
      const v = byId.get(id);
      return v ? { ...v } : null;
    },
    screenPoint(id) {
      const v = byId.get(id);
      if (!map || !v) return null;
      const p = map.project(v.lngLat);
      const r = map.getContainer().getBoundingClientRect();
      return { x: r.left + p.x, y: r.top + p.y };
    },
    vehicle(id) {
      const v = fleet.vehicles.get(id);
      return v ? { state: v.state, x: v.x, y: v.y, open_alerts: v.open_alerts } : null;
    },
    alert(id) {
      const a = fleet.alerts.get(id);
      return a ? { alert_status: a.alert_status, severity: a.severity, vehicle_id: a.vehicle_id } : null;
    },
    get alerts() {
      return fleet.alerts.size;
    },
    get vehicles() {
      return fleet.vehicles.size;
    },
    get pushIntervalMs() {
      return pushInterval;
    },
    get softwareRenderer() {
      return software;
    },
    get frames() {
      return frames;
    },
    get pushes() {
      return pushes;
    },
    get connection() {
      return useUi.getState().connection;
    },
  };
  Object.defineProperty(window, '__fleetops', { value: Object.freeze(p), writable: false, configurable: false });
}
