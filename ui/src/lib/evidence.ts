/*
 * How an alert's features read against its thresholds. The detector names
 * thresholds after what they bound, not always after the feature
 * (decel_accel bounds acceleration_magnitude); the table below pairs them
 * and says which way the rule fires. Unknown names pair with a feature of
 * the same name, else stand alone. Pure.
 */

export interface Comparison {
  threshold: string;
  feature: string | null;
  value: number | null;
  limit: number;
  op: '>' | '<' | '>=';
  /** Whether the feature is past the threshold (null when there is no feature). */
  exceeded: boolean | null;
}

const PAIRS: Record<string, { feature: string; op: Comparison['op'] }> = {
  decel_accel: { feature: 'acceleration_magnitude', op: '>' },
  decel_critical: { feature: 'acceleration_magnitude', op: '>=' },
  decel_dv: { feature: 'velocity_delta', op: '<' },
  label_drop: { feature: 'label_drop', op: '>' },
  position_jump: { feature: 'position_jump', op: '>' },
  yaw_jump: { feature: 'yaw_jump', op: '>' },
  dropout_frames: { feature: 'frames_unseen', op: '>' },
  scene_agent_drop: { feature: 'agents_lost', op: '>' },
};

function past(v: number, op: Comparison['op'], limit: number): boolean {
  return op === '>' ? v > limit : op === '<' ? v < limit : v >= limit;
}

export function compareFeatures(
  features: Record<string, number> | null | undefined,
  thresholds: Record<string, number> | null | undefined,
): { rows: Comparison[]; others: [string, number][] } {
  const f = features ?? {};
  const rows: Comparison[] = [];
  const used = new Set<string>();
  for (const [name, limit] of Object.entries(thresholds ?? {})) {
    const pair = PAIRS[name] ?? { feature: name, op: '>' as const };
    const value = typeof f[pair.feature] === 'number' ? f[pair.feature]! : null;
    if (value != null) used.add(pair.feature);
    rows.push({
      threshold: name,
      feature: value != null ? pair.feature : null,
      value,
      limit,
      op: pair.op,
      exceeded: value != null ? past(value, pair.op, limit) : null,
    });
  }
  const others = Object.entries(f).filter(([k]) => !used.has(k));
  return { rows, others };
}

/** Numbers for tables: up to 3 decimals, no trailing zeros. */
export function fmt(v: number | null | undefined): string {
  if (v == null || !Number.isFinite(v)) return '–';
  return Number.isInteger(v) ? String(v) : v.toFixed(3).replace(/0+$/, '').replace(/\.$/, '');
}
