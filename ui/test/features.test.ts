import { describe, expect, it } from 'vitest';
import { gridExtent, gridFeatures, metricExtent, trailFeatures, vehicleFeatures } from '../src/map/features';
import { FleetState } from '../src/state/fleet';
import { DEFAULT_WORLD_TO_ECEF } from '../src/lib/geo';
import { alert, vehicle } from './fixtures';

describe('map features', () => {
  it('one point per positioned vehicle, with state, alert ring and selection', () => {
    const f = new FleetState();
    f.applySnapshot(
      [alert({ vehicle_id: 'v2' })],
      [
        vehicle({ vehicle_id: 'v1', state: 'NORMAL' }),
        vehicle({ vehicle_id: 'v2', state: 'DEGRADED', x: 10 }),
        vehicle({ vehicle_id: 'ghost', x: null, y: null }),
        // open alerts the snapshot did not carry: the server's count says so
        vehicle({ vehicle_id: 'v3', state: 'DEGRADED', x: 20, open_alerts: 2 }),
      ],
    );
    const fc = vehicleFeatures(f, 'v1');
    expect(fc.features.map((x) => x.properties)).toEqual([
      { id: 'v1', state: 'NORMAL', alerting: 0, selected: 1 },
      { id: 'v2', state: 'DEGRADED', alerting: 1, selected: 0 },
      { id: 'v3', state: 'DEGRADED', alerting: 1, selected: 0 },
    ]);
    f.applyVehicles([vehicle({ vehicle_id: 'v2', state: 'UNDER_INTERVENTION', x: 10 })]);
    expect(vehicleFeatures(f, null).features[1]!.properties.state).toBe('UNDER_INTERVENTION');
  });

  it('trails only where a vehicle has moved', () => {
    const f = new FleetState();
    f.applyVehicles([vehicle({ vehicle_id: 'a' }), vehicle({ vehicle_id: 'b' })]);
    f.applyVehicles([vehicle({ vehicle_id: 'a', x: 3, frame_index: 1 })]);
    const t = trailFeatures(f);
    expect(t.features).toHaveLength(1);
    expect(t.features[0]!.geometry.coordinates).toHaveLength(2);
  });

  it('the grid covers the fleet, snapped to 500 m, at most a few hundred lines', () => {
    const f = new FleetState();
    f.applyVehicles([vehicle({ vehicle_id: 'a', x: -120, y: 40 }), vehicle({ vehicle_id: 'b', x: 730, y: 610 })]);
    const e = gridExtent(metricExtent(f));
    expect(e).toEqual({ minX: -1000, minY: -500, maxX: 1500, maxY: 1500 });
    const g = gridFeatures(DEFAULT_WORLD_TO_ECEF, e);
    expect(g.features).toHaveLength(26 + 21);
    expect(g.features.filter((x) => x.properties.major === 1)).toHaveLength(6 + 5);
    const huge = gridFeatures(DEFAULT_WORLD_TO_ECEF, { minX: -50_000, minY: -50_000, maxX: 50_000, maxY: 50_000 });
    expect(huge.features.length).toBeLessThanOrEqual(402);
  });
});
