/* Header: live figures from the `stats` message and the connection indicator. */
import { SEVERITIES } from '../api/types';
import { endSession } from '../state/session';
import { fleet, useUi } from '../state/store';
import { useThrottled } from '../state/useThrottled';

export function Header({ onSettings }: { onSettings: () => void }) {
  const stats = useThrottled(() => fleet.stats, 500);
  const vehicles = useThrottled(() => fleet.vehicles.size, 500);
  return (
    <header className="header">
      <span className="brand">FleetOps</span>
      <Figure label="events/s" value={stats ? Math.round(stats.events_per_s).toLocaleString() : '–'} testId="stat-events" />
      <Figure label="p99 latency" value={stats ? `${stats.latency_p99_ms.toFixed(0)} ms` : '–'} testId="stat-latency" />
      <Figure label="vehicles" value={(stats?.vehicles ?? vehicles).toLocaleString()} testId="stat-vehicles" />
      <span className="figure" data-testid="stat-open-alerts">
        <span className="label">open alerts</span>
        {SEVERITIES.map((s) => (
          <span key={s} className={`sev sev-${s}`} title={s}>
            {s[0]} {stats?.open_alerts?.[s] ?? 0}
          </span>
        ))}
      </span>
      <span className="spacer" />
      <ConnectionIndicator />
      <button className="ghost" onClick={onSettings} data-testid="settings-toggle">
        Settings
      </button>
      <button className="ghost" onClick={() => endSession('Signed out.')} data-testid="sign-out">
        Sign out
      </button>
    </header>
  );
}

function Figure({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <span className="figure" data-testid={testId}>
      <span className="label">{label}</span>
      <span className="value">{value}</span>
    </span>
  );
}

function ConnectionIndicator() {
  const state = useUi((s) => s.connection);
  const detail = useUi((s) => s.connectionDetail);
  const text = state === 'open' ? 'live' : state === 'connecting' ? 'connecting' : 'offline';
  return (
    <span className={`conn conn-${state}`} data-testid="connection-status" data-state={state} title={detail}>
      <span className="dot" /> {text}
    </span>
  );
}
