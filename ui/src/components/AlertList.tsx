/*
 * The alert list: status, severity and vehicle filters, most severe then
 * newest first, live. While the pointer is over the rows their order is
 * held (statuses still update), so that a row does not move away under
 * the cursor when alerts pour in; new ones are counted and slot in when
 * the pointer leaves.
 */
import { useRef, useState } from 'react';
import { ALERT_STATUSES, SEVERITIES, type Alert } from '../api/types';
import { visibleAlerts, type VisibleAlerts } from '../lib/alerts';
import { fleet, selectAlert, useUi } from '../state/store';
import { useThrottled } from '../state/useThrottled';

function toggle<T>(list: readonly T[], v: T): T[] {
  return list.includes(v) ? list.filter((x) => x !== v) : [...list, v];
}

export function AlertList() {
  const filter = useUi((s) => s.filter);
  const selected = useUi((s) => s.selectedAlertId);
  const held = useRef<Alert[] | null>(null);
  const [holding, setHolding] = useState(false);
  const { rows: alerts, total } = useThrottled(
    (): VisibleAlerts => {
      const live = visibleAlerts(fleet.alerts.values(), filter);
      if (!held.current) return live;
      // The held rows, as the store has them now (or as they were, if evicted).
      const rows = held.current.map((a) => fleet.alerts.get(a.alert_id) ?? a);
      return { rows, total: live.total };
    },
    250,
    [filter, holding],
  );
  const hold = (on: boolean) => {
    held.current = on ? alerts : null;
    setHolding(on);
  };
  const setFilter = (f: typeof filter) => useUi.setState({ filter: f });

  return (
    <section className="panel alerts" data-testid="alert-list">
      <h2>
        Alerts{' '}
        <span className="muted" data-testid="alert-count">
          {total > alerts.length ? `${alerts.length} of ${total.toLocaleString()}` : total}
        </span>
      </h2>
      <div className="chips" data-testid="filter-status">
        {ALERT_STATUSES.map((s) => (
          <button
            key={s}
            className={`chip ${filter.statuses.includes(s) ? 'on' : ''}`}
            aria-pressed={filter.statuses.includes(s)}
            data-testid={`filter-status-${s}`}
            onClick={() => setFilter({ ...filter, statuses: toggle(filter.statuses, s) })}
          >
            {s.toLowerCase()}
          </button>
        ))}
      </div>
      <div className="chips" data-testid="filter-severity">
        {SEVERITIES.map((s) => (
          <button
            key={s}
            className={`chip sev-${s} ${filter.severities.includes(s) ? 'on' : ''}`}
            aria-pressed={filter.severities.includes(s)}
            data-testid={`filter-severity-${s}`}
            onClick={() => setFilter({ ...filter, severities: toggle(filter.severities, s) })}
          >
            {s.toLowerCase()}
          </button>
        ))}
      </div>
      <input
        className="search"
        type="search"
        placeholder="vehicle id…"
        value={filter.vehicle ?? ''}
        onChange={(e) => setFilter({ ...filter, vehicle: e.target.value })}
        data-testid="filter-vehicle"
      />
      {holding && total > alerts.length && (
        <p className="muted small held" data-testid="alert-list-held">
          order held under the pointer; {Math.max(0, total - alerts.length).toLocaleString()} more waiting
        </p>
      )}
      <ul className="rows" data-testid="alert-rows" onMouseEnter={() => hold(true)} onMouseLeave={() => hold(false)}>
        {alerts.map((a) => (
          <AlertRow key={a.alert_id} a={a} selected={a.alert_id === selected} />
        ))}
        {alerts.length === 0 && <li className="muted empty">No alerts match.</li>}
      </ul>
    </section>
  );
}

function AlertRow({ a, selected }: { a: Alert; selected: boolean }) {
  return (
    <li
      className={`row ${selected ? 'selected' : ''}`}
      data-testid="alert-row"
      data-alert-id={a.alert_id}
      data-status={a.alert_status}
      data-severity={a.severity}
      data-vehicle-id={a.vehicle_id}
      onClick={() => selectAlert(a.alert_id, a.vehicle_id)}
    >
      <span className={`badge sev-${a.severity}`}>{a.severity}</span>
      <span className="main">
        <span className="title">{a.anomaly_type.replace(/_/g, ' ')}</span>
        <span className="muted small">
          {a.vehicle_id} · {a.triggered_rule}
        </span>
      </span>
      <span className="side">
        <span className={`status st-${a.alert_status}`} data-testid="alert-status">
          {a.alert_status.toLowerCase()}
        </span>
        <span className="muted small" title={`raised ${a.created_at}, event time ${a.event_time}`}>
          {timeOfDay(a.created_at)}
        </span>
      </span>
    </li>
  );
}

export function timeOfDay(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().slice(11, 19);
}
