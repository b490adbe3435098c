/*
 * Dataset metric frame -> WGS84. L5Kit positions are metres in a local
 * world frame; the dataset's world_to_ecef (a 4x4 affine matrix, row-major)
 * takes (x, y, 0, 1) to Earth-centred Earth-fixed metres, and the ECEF point
 * is turned into geodetic latitude/longitude on the WGS84 ellipsoid with
 * Bowring's iteration (converges to well under a millimetre in 3 steps).
 * Pure functions, no state; the default matrix is the public calibration
 * that L5Kit ships in meta.json (Palo Alto).
 */

export type Matrix4 = readonly [
  readonly [number, number, number, number],
  readonly [number, number, number, number],
  readonly [number, number, number, number],
  readonly [number, number, number, number],
];

/** world_to_ecef from L5Kit's meta.json (the Lyft Level 5 dataset). */
export const DEFAULT_WORLD_TO_ECEF: Matrix4 = [
  [0.846617444, 0.323463078, -0.422623402, -2698767.44],
  [-0.532201938, 0.514559352, -0.672301845, -4293151.58],
  [-3.05311332e-16, 0.794103464, 0.6077826, 3855164.76],
  [0.0, 0.0, 0.0, 1.0],
];

const WGS84_A = 6378137.0;
const WGS84_F = 1 / 298.257223563;
const WGS84_B = WGS84_A * (1 - WGS84_F);
const WGS84_E2 = WGS84_F * (2 - WGS84_F);
const WGS84_EP2 = WGS84_E2 / (1 - WGS84_E2);
const RAD = 180 / Math.PI;

export interface Geodetic {
  lat: number;
  lon: number;
  height: number;
}

/** ECEF metres -> geodetic degrees and ellipsoidal height in metres. */
export function ecefToGeodetic(x: number, y: number, z: number): Geodetic {
  const lon = Math.atan2(y, x);
  const p = Math.hypot(x, y);
  if (p < 1e-9) {
    const lat = z >= 0 ? Math.PI / 2 : -Math.PI / 2;
    return { lat: lat * RAD, lon: 0, height: Math.abs(z) - WGS84_B };
  }
  // Bowring: iterate on the parametric latitude beta.
  let beta = Math.atan2(z, p * (1 - WGS84_F));
  let lat = 0;
  for (let i = 0; i < 4; i++) {
    const sb = Math.sin(beta);
    const cb = Math.cos(beta);
    lat = Math.atan2(z + WGS84_EP2 * WGS84_B * sb * sb * sb, p - WGS84_E2 * WGS84_A * cb * cb * cb);
    beta = Math.atan2((1 - WGS84_F) * Math.sin(lat), Math.cos(lat));
  }
  const sl = Math.sin(lat);
  const n = WGS84_A / Math.sqrt(1 - WGS84_E2 * sl * sl);
  const height = p * Math.cos(lat) + (z + WGS84_E2 * n * sl) * sl - n;
  return { lat: lat * RAD, lon: lon * RAD, height };
}

/** Geodetic degrees and height -> ECEF metres (the forward formula, for tests and grids). */
export function geodeticToEcef(latDeg: number, lonDeg: number, height: number): [number, number, number] {
  const lat = latDeg / RAD;
  const lon = lonDeg / RAD;
  const sl = Math.sin(lat);
  const n = WGS84_A / Math.sqrt(1 - WGS84_E2 * sl * sl);
  return [
    (n + height) * Math.cos(lat) * Math.cos(lon),
    (n + height) * Math.cos(lat) * Math.sin(lon),
    (n * (1 - WGS84_E2) + height) * sl,
  ];
}

/** Dataset (x, y) metres -> [lon, lat] degrees, the order MapLibre wants. */
export function worldToLngLat(m: Matrix4, x: number, y: number): [number, number] {
  const [r0, r1, r2] = m;
  const ex = r0[0] * x + r0[1] * y + r0[3];
  const ey = r1[0] * x + r1[1] * y + r1[3];
  const ez = r2[0] * x + r2[1] * y + r2[3];
  const g = ecefToGeodetic(ex, ey, ez);
  return [g.lon, g.lat];
}

/**
 * A matrix from untrusted input (URL, settings, server): 4 rows of 4 finite
 * numbers, or 16 numbers row-major. Returns null when it is not one.
 */
export function parseMatrix4(value: unknown): Matrix4 | null {
  let flat: unknown[] | null = null;
  if (Array.isArray(value) && value.length === 16) flat = value;
  else if (Array.isArray(value) && value.length === 4 && value.every((r) => Array.isArray(r) && r.length === 4))
    flat = (value as unknown[][]).flat();
  if (!flat || !flat.every((v) => typeof v === 'number' && Number.isFinite(v))) return null;
  const n = flat as number[];
  const row = (i: number) => [n[i * 4]!, n[i * 4 + 1]!, n[i * 4 + 2]!, n[i * 4 + 3]!] as const;
  return [row(0), row(1), row(2), row(3)];
}
