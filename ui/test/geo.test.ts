import { describe, expect, it } from 'vitest';
import { DEFAULT_WORLD_TO_ECEF, ecefToGeodetic, geodeticToEcef, parseMatrix4, worldToLngLat } from '../src/lib/geo';

// Expected values computed independently in Python with Heikkinen's closed
// form (not the Bowring iteration the module uses), same WGS84 constants.
const KNOWN: [number, number, number, number, number][] = [
  // x, y (metres) -> lat, lon (degrees), height (m)
  [0, 0, 37.429342658, -122.154352007, -287.7975],
  [-2000, -1000, 37.420329915, -122.176946966, -287.4057],
  [680.5, -2213.3, 37.409399265, -122.14666519, -287.3761],
  [10000, 10000, 37.519393493, -122.04122823, -272.1045],
];

describe('world_to_ecef -> WGS84', () => {
  it.each(KNOWN)('(%f, %f) lands at the independently computed point', (x, y, lat, lon, h) => {
    const [glon, glat] = worldToLngLat(DEFAULT_WORLD_TO_ECEF, x, y);
    expect(glat).toBeCloseTo(lat, 8);
    expect(glon).toBeCloseTo(lon, 8);
    const m = DEFAULT_WORLD_TO_ECEF;
    const g = ecefToGeodetic(
      m[0][0] * x + m[0][1] * y + m[0][3],
      m[1][0] * x + m[1][1] * y + m[1][3],
      m[2][0] * x + m[2][1] * y + m[2][3],
    );
    expect(g.height).toBeCloseTo(h, 3);
  });

  it('is the inverse of the forward geodetic formula', () => {
    for (const [lat, lon, h] of [
      [0, 0, 0],
      [51.4778, -0.0015, 45],
      [-33.8568, 151.2153, 5],
      [89.9, 10, 100],
      [-45, -170, -50],
    ] as const) {
      const [x, y, z] = geodeticToEcef(lat, lon, h);
      const g = ecefToGeodetic(x, y, z);
      expect(g.lat).toBeCloseTo(lat, 9);
      expect(g.lon).toBeCloseTo(lon, 9);
      expect(g.height).toBeCloseTo(h, 4);
    }
  });

  it('handles the poles', () => {
    const g = ecefToGeodetic(0, 0, 6356752.314245);
    expect(g.lat).toBeCloseTo(90, 9);
    expect(g.height).toBeCloseTo(0, 3);
  });

  it('metres in the frame are metres on the ground', () => {
    const [lon0, lat0] = worldToLngLat(DEFAULT_WORLD_TO_ECEF, 0, 0);
    const [lon1, lat1] = worldToLngLat(DEFAULT_WORLD_TO_ECEF, 100, 0);
    const dy = (lat1 - lat0) * 111_000;
    const dx = (lon1 - lon0) * 111_000 * Math.cos((lat0 * Math.PI) / 180);
    expect(Math.hypot(dx, dy)).toBeGreaterThan(99);
    expect(Math.hypot(dx, dy)).toBeLessThan(101);
  });
});

describe('parseMatrix4', () => {
  it('takes 4x4 rows or 16 numbers', () => {
    expect(parseMatrix4(DEFAULT_WORLD_TO_ECEF.map((r) => [...r]))).toEqual(DEFAULT_WORLD_TO_ECEF);
    expect(parseMatrix4(DEFAULT_WORLD_TO_ECEF.flat())).toEqual(DEFAULT_WORLD_TO_ECEF);
  });
  it('refuses anything else', () => {
    expect(parseMatrix4(null)).toBeNull();
    expect(parseMatrix4([1, 2, 3])).toBeNull();
    expect(parseMatrix4([[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3]])).toBeNull();
    expect(parseMatrix4(new Array(16).fill('1'))).toBeNull();
    expect(parseMatrix4([...new Array(15).fill(0), Number.NaN])).toBeNull();
  });
});
