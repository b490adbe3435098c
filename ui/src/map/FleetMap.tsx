/*
 * The fleet map. MapLibre owns the canvas; React only mounts it. Store
 * changes schedule one requestAnimationFrame, in which the vehicles'
 * GeoJSON source is replaced if vehicles, alerts or the selection changed
 * (so 10 Hz batches of 1,000 vehicles cost one setData per frame at most);
 * trails are pushed at most 4 times a second, the grid when the fleet's
 * extent outgrows it. Also publishes the read-only window.__fleetops
 * probe that the end-to-end test reads.
 */
import { useEffect, useRef } from 'react';
import {
  LngLatBounds,
  Map as MlMap,
  NavigationControl,
  ScaleControl,
  setWorkerUrl,
  type GeoJSONSource,
  type MapLayerMouseEvent,
} from 'maplibre-gl';
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import 'maplibre-gl/dist/maplibre-gl.css';
import { fleet, selectVehicle, useUi } from '../state/store';
import { gridExtent, gridFeatures, metricExtent, trailFeatures, vehicleFeatures, type Extent } from './features';
import { addFleetLayers, LAYER_VEHICLES, OFFLINE_STYLE } from './style';
import { installProbe, probe } from './probe';
import { worldToLngLat } from '../lib/geo';

setWorkerUrl(workerUrl);

const TRAIL_INTERVAL_MS = 250;

export function FleetMap() {
  const container = useRef<HTMLDivElement>(null);
  const styleUrl = useUi((s) => s.settings.styleUrl);

  useEffect(() => {
    if (!container.current) return;
    installProbe();
    const offline = !styleUrl;
    const o = worldOrigin();
    const map = new MlMap({
      container: container.current,
      style: offline ? OFFLINE_STYLE : styleUrl,
      center: o,
      zoom: 14,
      attributionControl: false,
      fadeDuration: 0,
    });
    map.addControl(new NavigationControl({ showCompass: true }), 'top-right');
    map.addControl(new ScaleControl({ unit: 'metric' }), 'bottom-left');

    let loaded = false;
    let raf = 0;
    let pushed = { vehicles: -1, alerts: -1, selected: null as string | null, matrix: fleet.matrix };
    let trailsAt = 0;
    let trailsVersion = -1;
    let grid: Extent | null = null;
    let fitted = false;

    const frame = (now: number) => {
      raf = 0;
      if (!loaded) return;
      const s = useUi.getState();
      const src = (id: string) => map.getSource(id) as GeoJSONSource | undefined;
      if (
        pushed.vehicles !== fleet.vehiclesVersion ||
        pushed.alerts !== fleet.alertsVersion ||
        pushed.selected !== s.selectedVehicleId
      ) {
        const fc = vehicleFeatures(fleet, s.selectedVehicleId);
        src('fo-vehicles')?.setData(fc);
        probe.setVehicles(fc);
        pushed = { vehicles: fleet.vehiclesVersion, alerts: fleet.alertsVersion, selected: s.selectedVehicleId, matrix: fleet.matrix };
        if (!fitted && fc.features.length > 0) {
          fitted = true;
          fitToFleet(map);
        }
      }
      if (trailsVersion !== fleet.vehiclesVersion && now - trailsAt >= TRAIL_INTERVAL_MS) {
        trailsAt = now;
        trailsVersion = fleet.vehiclesVersion;
        src('fo-trails')?.setData(trailFeatures(fleet));
      } else if (trailsVersion !== fleet.vehiclesVersion) schedule();
      if (offline) {
        const g = gridExtent(metricExtent(fleet));
        if (!grid || g.minX !== grid.minX || g.minY !== grid.minY || g.maxX !== grid.maxX || g.maxY !== grid.maxY || pushed.matrix !== fleet.matrix) {
          grid = g;
          src('fo-grid')?.setData(gridFeatures(fleet.matrix, g));
        }
      }
    };
    const schedule = () => {
      if (!raf) raf = requestAnimationFrame(frame);
    };

    map.on('load', () => {
      addFleetLayers(map, offline);
      loaded = true;
      probe.setMap(map);
      schedule();
    });
    map.on('click', LAYER_VEHICLES, (e: MapLayerMouseEvent) => {
      const id = e.features?.[0]?.properties?.id;
      if (typeof id === 'string') selectVehicle(id);
    });
    map.on('mouseenter', LAYER_VEHICLES, () => (map.getCanvas().style.cursor = 'pointer'));
    map.on('mouseleave', LAYER_VEHICLES, () => (map.getCanvas().style.cursor = ''));

    let lastFly = useUi.getState().flyTo?.seq ?? 0;
    const unsub = useUi.subscribe((s) => {
      schedule();
      if (s.flyTo && s.flyTo.seq !== lastFly) {
        lastFly = s.flyTo.seq;
        map.flyTo({ center: s.flyTo.lngLat, zoom: Math.max(map.getZoom(), 16), speed: 1.6 });
      }
    });

    return () => {
      unsub();
      if (raf) cancelAnimationFrame(raf);
      probe.setMap(null);
      map.remove();
    };
  }, [styleUrl]);

  return <div ref={container} className="map" data-testid="map" />;
}

/** The centre of the fleet's metric extent (or the frame's origin) in WGS84. */
function worldOrigin(): [number, number] {
  const e = metricExtent(fleet);
  return e ? worldToLngLat(fleet.matrix, (e.minX + e.maxX) / 2, (e.minY + e.maxY) / 2) : worldToLngLat(fleet.matrix, 0, 0);
}

function fitToFleet(map: MlMap): void {
  const b = new LngLatBounds();
  for (const v of fleet.vehicles.values()) if (v.lngLat) b.extend(v.lngLat);
  if (!b.isEmpty()) map.fitBounds(b, { padding: 60, maxZoom: 17, duration: 0 });
}
