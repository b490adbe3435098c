/*
 * The map's look. The offline style has only a background (no tiles, no
 * glyphs, no sprites: nothing is fetched); the fleet's sources and layers
 * are added on top of it, or on top of a real base-map style given by
 * URL. Vehicles are circles (no symbol layers, which would need glyphs).
 */
import type { Map as MlMap, StyleSpecification } from 'maplibre-gl';

export const STATE_COLORS = {
  NORMAL: '#22c55e',
  DEGRADED: '#eab308',
  ALERTING: '#f97316',
  UNDER_INTERVENTION: '#ef4444',
} as const;

export const OFFLINE_STYLE: StyleSpecification = {
  version: 8,
  name: 'fleetops-offline',
  sources: {},
  layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#0b1220' } }],
};

const empty = (): GeoJSON.FeatureCollection => ({ type: 'FeatureCollection', features: [] });

const stateColor = [
  'match',
  ['get', 'state'],
  'NORMAL',
  STATE_COLORS.NORMAL,
  'DEGRADED',
  STATE_COLORS.DEGRADED,
  'ALERTING',
  STATE_COLORS.ALERTING,
  'UNDER_INTERVENTION',
  STATE_COLORS.UNDER_INTERVENTION,
  '#94a3b8',
] as const;

const radius = (base: number) =>
  ['interpolate', ['exponential', 1.6], ['zoom'], 10, base * 0.5, 14, base, 18, base * 3] as const;

export const LAYER_VEHICLES = 'fo-vehicles';
const SOURCE_MAXZOOM = 13;

/** Adds the fleet's sources and layers; call after the style has loaded. */
export function addFleetLayers(map: MlMap, offline: boolean): void {
  // Few, large tiles: each setData re-tiles in the worker and every tile
  // that arrives repaints, so fewer tiles means fewer repaints per update.
  // z13 tiles still place points to about half a metre.
  const geojson = { type: 'geojson' as const, data: empty(), maxzoom: SOURCE_MAXZOOM, buffer: 16 };
  map.addSource('fo-grid', { ...geojson, data: empty() });
  map.addSource('fo-trails', { ...geojson, data: empty() });
  map.addSource('fo-vehicles', { ...geojson, data: empty() });
  if (offline) {
    map.addLayer({
      id: 'fo-grid-minor',
      type: 'line',
      source: 'fo-grid',
      filter: ['==', ['get', 'major'], 0],
      paint: { 'line-color': '#1e293b', 'line-width': 1 },
    });
    map.addLayer({
      id: 'fo-grid-major',
      type: 'line',
      source: 'fo-grid',
      filter: ['==', ['get', 'major'], 1],
      paint: { 'line-color': '#334155', 'line-width': 1.5 },
    });
  }
  map.addLayer({
    id: 'fo-trails',
    type: 'line',
    source: 'fo-trails',
    paint: { 'line-color': stateColor as never, 'line-width': 1.5, 'line-opacity': 0.45 },
  });
  map.addLayer({
    id: 'fo-alert-ring',
    type: 'circle',
    source: 'fo-vehicles',
    filter: ['==', ['get', 'alerting'], 1],
    paint: {
      'circle-radius': radius(9) as never,
      'circle-color': 'rgba(0,0,0,0)',
      'circle-stroke-color': '#f8fafc',
      'circle-stroke-width': 2,
      'circle-stroke-opacity': 0.9,
    },
  });
  map.addLayer({
    id: LAYER_VEHICLES,
    type: 'circle',
    source: 'fo-vehicles',
    paint: {
      'circle-radius': radius(5) as never,
      'circle-color': stateColor as never,
      'circle-stroke-color': '#0b1220',
      'circle-stroke-width': 1,
    },
  });
  map.addLayer({
    id: 'fo-selected',
    type: 'circle',
    source: 'fo-vehicles',
    filter: ['==', ['get', 'selected'], 1],
    paint: {
      'circle-radius': radius(13) as never,
      'circle-color': 'rgba(0,0,0,0)',
      'circle-stroke-color': '#38bdf8',
      'circle-stroke-width': 3,
    },
  });
}
