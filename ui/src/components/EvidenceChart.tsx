/*
 * A small SVG chart of the evidence: speed (m/s) and acceleration magnitude
 * (m/s^2) over the frames before the alert, each on its own scale, the
 * alert's frame marked at the right. No chart library.
 */
import type { Evidence } from '../api/types';

const W = 300;
const H = 120;
const PAD = { l: 30, r: 30, t: 10, b: 18 };

function path(xs: number[], ys: number[], lo: number, hi: number): string {
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  const sx = (x: number) => PAD.l + ((x - x0) / (x1 - x0 || 1)) * (W - PAD.l - PAD.r);
  const sy = (y: number) => H - PAD.b - ((y - lo) / (hi - lo || 1)) * (H - PAD.t - PAD.b);
  return xs.map((x, i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(ys[i] ?? 0).toFixed(1)}`).join(' ');
}

function range(v: number[]): [number, number] {
  const lo = Math.min(0, ...v);
  const hi = Math.max(...v);
  return [lo, hi > lo ? hi : lo + 1];
}

export function EvidenceChart({ evidence }: { evidence: Evidence | null | undefined }) {
  const frames = evidence?.frame_indices ?? [];
  const vel = evidence?.velocity_history ?? [];
  const acc = evidence?.acceleration_history ?? [];
  const n = Math.min(frames.length, vel.length, acc.length);
  if (n < 2) return <p className="muted small">No evidence history.</p>;
  const xs = frames.slice(0, n);
  const v = vel.slice(0, n);
  const a = acc.slice(0, n);
  const [vlo, vhi] = range(v);
  const [alo, ahi] = range(a);
  return (
    <svg className="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label="speed and acceleration history" data-testid="evidence-chart">
      <rect x={PAD.l} y={PAD.t} width={W - PAD.l - PAD.r} height={H - PAD.t - PAD.b} className="plot" />
      <path d={path(xs, v, vlo, vhi)} className="line-speed" />
      <path d={path(xs, a, alo, ahi)} className="line-accel" />
      <line x1={W - PAD.r} x2={W - PAD.r} y1={PAD.t} y2={H - PAD.b} className="marker" />
      <text x={2} y={PAD.t + 8} className="axis speed">{vhi.toFixed(1)}</text>
      <text x={2} y={H - PAD.b} className="axis speed">{vlo.toFixed(1)}</text>
      <text x={W - PAD.r + 3} y={PAD.t + 8} className="axis accel">{ahi.toFixed(1)}</text>
      <text x={W - PAD.r + 3} y={H - PAD.b} className="axis accel">{alo.toFixed(1)}</text>
      <text x={PAD.l} y={H - 4} className="axis">frame {xs[0]}</text>
      <text x={W - PAD.r} y={H - 4} className="axis" textAnchor="end">{xs[n - 1]}</text>
      <text x={PAD.l + 4} y={PAD.t + 10} className="legend speed">speed m/s</text>
      <text x={PAD.l + 70} y={PAD.t + 10} className="legend accel">accel m/s²</text>
    </svg>
  );
}
