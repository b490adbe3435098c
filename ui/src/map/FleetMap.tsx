/*
 * The fleet map. MapLibre owns the canvas; React only mounts it. Store
 * changes schedule one requestAnimationFrame, in which the vehicles'
 * GeoJSON source is replaced if vehicles, alerts or the selection changed:
 * at most once per frame, and no more often than the PushGovernor allows
 * (governor.ts: on a software renderer a frame can cost ~100 ms, and the
 * map must not starve the WebSocket). Trails follow at most twice a
 * second, the grid when the fleet's extent outgrows it. A new selection
 * is pushed at once. Also publishes the read-only window.__fleetops probe
 * that the end-to-end test reads.
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
import { PushGovernor } from './governor';
import { worldToLngLat } from '../lib/geo';

setWorkerUrl(workerUrl);

const TRAIL_INTERVAL_MS = 500;
const LAG_PROBE_MS = 100;

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
      ...(pixelRatioParam() ? { pixelRatio: pixelRatioParam()! } : {}),
    });
    map.addControl(new NavigationControl({ showCompass: true }), 'top-right');
    map.addControl(new ScaleControl({ unit: 'metric' }), 'bottom-left');

    let loaded = false;
    let raf = 0;
    let pushed = { vehicles: -1, alerts: -1, states: -1, selected: null as string | null };
    let gridMatrix = fleet.matrix;
    let vehiclesAt = 0;
    let trailsAt = 0;
    const governor = new PushGovernor();
    let lagLast = performance.now();
    const lagTimer = setInterval(() => {
      const t = performance.now();
      governor.observeLag(t, t - lagLast - LAG_PROBE_MS);
      lagLast = t;
      probe.setPushInterval(governor.intervalMs(t));
    }, LAG_PROBE_MS);
    let trailsVersion = -1;
    let grid: Extent | null = null;
    let fitted = false;

    const frame = (now: number) => {
      raf = 0;
      if (!loaded) return;
      const s = useUi.getState();
      const src = (id: string) => map.getSource(id) as GeoJSONSource | undefined;
      // A new selection or a vehicle's new state shows at once; moves and
      // alert rings wait for the governor.
      const urgent = pushed.selected !== s.selectedVehicleId || pushed.states !== fleet.statesVersion;
      const moved = pushed.vehicles !== fleet.vehiclesVersion || pushed.alerts !== fleet.alertsVersion;
      if (urgent || (moved && governor.mayPush(now, vehiclesAt))) {
        vehiclesAt = now;
        const fc = vehicleFeatures(fleet, s.selectedVehicleId);
        src('fo-vehicles')?.setData(fc);
        probe.setVehicles(fc);
        probe.countPush();
        pushed = {
          vehicles: fleet.vehiclesVersion,
          alerts: fleet.alertsVersion,
          states: fleet.statesVersion,
          selected: s.selectedVehicleId,
        };
        if (!fitted && fc.features.length > 0) {
          fitted = true;
          fitToFleet(map);
        }
        if (offline) pushGrid();
        // Trails ride along with a vehicle push (one repaint for both).
        if (trailsVersion !== fleet.vehiclesVersion && now - trailsAt >= TRAIL_INTERVAL_MS) {
          trailsAt = now;
          trailsVersion = fleet.vehiclesVersion;
          src('fo-trails')?.setData(trailFeatures(fleet));
        }
      } else if (moved) schedule();
    };
    const pushGrid = () => {
      const g = gridExtent(metricExtent(fleet));
      const same = grid && g.minX === grid.minX && g.minY === grid.minY && g.maxX === grid.maxX && g.maxY === grid.maxY;
      if (same && gridMatrix === fleet.matrix) return;
      grid = g;
      gridMatrix = fleet.matrix;
      (map.getSource('fo-grid') as GeoJSONSource | undefined)?.setData(gridFeatures(fleet.matrix, g));
    };
    const schedule = () => {
      if (!raf) raf = requestAnimationFrame(frame);
    };

    let software = false;
    map.on('load', () => {
      software = isSoftwareRenderer(map);
      probe.setSoftware(software);
      addFleetLayers(map, offline);
      if (offline) pushGrid();
      loaded = true;
      probe.setMap(map);
      schedule();
    });
    map.on('render', () => probe.countFrame());
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
        const target = { center: s.flyTo.lngLat, zoom: Math.max(map.getZoom(), 16) };
        // A software renderer spends ~100 ms per frame: jump instead of animating.
        if (software) map.jumpTo(target);
        else map.flyTo({ ...target, speed: 1.6 });
      }
    });

    return () => {
      unsub();
      clearInterval(lagTimer);
      if (raf) cancelAnimationFrame(raf);
      probe.setMap(null);
      map.remove();
    };
  }, [styleUrl]);

  return <div ref={container} className="map" data-testid="map" />;
}

/** ?pixelRatio=N (0.25..4): render the map at fewer (or more) pixels than the screen's. */
function pixelRatioParam(): number | null {
  const v = Number(new URLSearchParams(location.search).get('pixelRatio'));
  return Number.isFinite(v) && v >= 0.25 && v <= 4 ? v : null;
}

/** Whether WebGL runs on the CPU (SwiftShader, llvmpipe): then the map animates less. */
function isSoftwareRenderer(map: MlMap): boolean {
  const canvas = map.getCanvas();
  // getContext with the map's own context type returns that same context.
  const gl = (canvas.getContext('webgl2') ?? canvas.getContext('webgl')) as WebGLRenderingContext | null;
  if (!gl) return false;
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  const name = `${String(gl.getParameter(gl.RENDERER))} ${ext ? String(gl.getParameter(ext.UNMASKED_RENDERER_WEBGL)) : ''}`;
  return /swiftshader|llvmpipe|software|softpipe/i.test(name);
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
