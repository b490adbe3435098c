/*
 * The selected alert: what fired (rule, features against thresholds), the
 * evidence chart, the actions taken (REST answer merged with live
 * action_executed messages), the incident once written, and the buttons.
 * The detail is fetched on selection and again when the alert changes.
 */
import { useEffect, useState } from 'react';
import { api } from '../api/rest';
import type { Action, AlertDetailResponse } from '../api/types';
import { compareFeatures, fmt } from '../lib/evidence';
import { pullOverInProgress } from '../lib/lifecycle';
import { fleet, selectAlert, useUi } from '../state/store';
import { useThrottled } from '../state/useThrottled';
import { ActionBar } from './ActionBar';
import { EvidenceChart } from './EvidenceChart';
import { timeOfDay } from './AlertList';

export function IncidentPanel() {
  const id = useUi((s) => s.selectedAlertId);
  if (!id) return null;
  return <Incident key={id} id={id} />;
}

function Incident({ id }: { id: string }) {
  const live = useThrottled(() => fleet.alerts.get(id) ?? null, 200, [id]);
  const liveActions = useThrottled(() => fleet.actions.get(id) ?? [], 200, [id]);
  const vehicleState = useThrottled(() => (live ? fleet.vehicles.get(live.vehicle_id)?.state : undefined), 200, [id, live?.vehicle_id]);
  const [detail, setDetail] = useState<AlertDetailResponse | null>(null);
  const [error, setError] = useState('');
  const [reload, setReload] = useState(0);

  const liveStamp = `${live?.updated_at ?? ''}|${liveActions.length}`;
  useEffect(() => {
    let gone = false;
    api
      .alert(id)
      .then((d) => {
        if (gone) return;
        setDetail(d);
        setError('');
        fleet.mergeAlerts([d.alert]);
        for (const a of d.actions) fleet.applyAction(a);
      })
      .catch((e: Error) => !gone && setError(e.message));
    return () => {
      gone = true;
    };
  }, [id, liveStamp, reload]);

  const alert = live ?? detail?.alert ?? null;
  if (!alert) return <section className="panel incident">{error ? <p className="error">{error}</p> : <p className="muted">Loading…</p>}</section>;

  const actions = mergeActions(detail?.actions ?? [], liveActions);
  const pending = pullOverInProgress(alert, actions);
  const cmp = compareFeatures(detail?.alert.features, detail?.alert.thresholds);

  return (
    <section className="panel incident" data-testid="incident-panel" data-alert-id={alert.alert_id} data-status={alert.alert_status}>
      <h2>
        <span className={`badge sev-${alert.severity}`}>{alert.severity}</span> {alert.anomaly_type.replace(/_/g, ' ')}
        <button className="ghost close" onClick={() => selectAlert(null, null)} aria-label="close">
          ×
        </button>
      </h2>
      <dl className="kv">
        <dt>status</dt>
        <dd data-testid="incident-status">{alert.alert_status}</dd>
        <dt>rule</dt>
        <dd>{alert.triggered_rule}</dd>
        <dt>vehicle</dt>
        <dd>
          <button className="link" onClick={() => selectAlert(alert.alert_id, alert.vehicle_id)}>
            {alert.vehicle_id}
          </button>
        </dd>
        <dt>event time</dt>
        <dd>{alert.event_time}</dd>
        <dt>assigned</dt>
        <dd>{alert.assigned_operator ?? '–'}</dd>
        {pending && (
          <>
            <dt>pull-over</dt>
            <dd className="pulling" data-testid="pullover-pending">
              in progress{alert.pullover_due_at ? `, completes ${timeOfDay(alert.pullover_due_at)}` : ''}
            </dd>
          </>
        )}
      </dl>
      <ActionBar
        alert={alert}
        pullOverPending={pending}
        vehiclePullOver={vehicleState === 'UNDER_INTERVENTION'}
        onDone={() => setReload((r) => r + 1)}
      />
      {error && <p className="error">{error}</p>}
      <h3>Features against thresholds</h3>
      <table className="features" data-testid="features-table">
        <thead>
          <tr>
            <th>feature</th>
            <th>value</th>
            <th />
            <th>threshold</th>
          </tr>
        </thead>
        <tbody>
          {cmp.rows.map((r) => (
            <tr key={r.threshold} className={r.exceeded ? 'exceeded' : ''}>
              <td>{r.feature ?? '–'}</td>
              <td>{fmt(r.value)}</td>
              <td>{r.op}</td>
              <td>
                {fmt(r.limit)} <span className="muted small">{r.threshold}</span>
              </td>
            </tr>
          ))}
          {cmp.others.map(([k, v]) => (
            <tr key={k} className="other">
              <td>{k}</td>
              <td>{fmt(v)}</td>
              <td />
              <td />
            </tr>
          ))}
        </tbody>
      </table>
      <h3>Evidence</h3>
      <EvidenceChart evidence={detail?.alert.evidence} />
      <h3>Timeline</h3>
      <ol className="timeline" data-testid="timeline">
        <li>
          <span className="muted small">{timeOfDay(alert.created_at)}</span> alert raised
        </li>
        {actions.map((a) => (
          <li key={a.action_id} data-action-type={a.action_type}>
            <span className="muted small">{timeOfDay(a.created_at)}</span> {a.action_type.toLowerCase().replace(/_/g, ' ')} by{' '}
            {a.operator_name}
            {a.metadata && (a.metadata as { automatic?: boolean }).automatic ? ' (automatic)' : ''}
          </li>
        ))}
        {detail?.incident && (
          <li data-testid="incident-recorded">
            <span className="muted small">{timeOfDay(detail.incident.resolved_at)}</span> incident recorded
          </li>
        )}
      </ol>
    </section>
  );
}

function mergeActions(a: readonly Action[], b: readonly Action[]): Action[] {
  const m = new Map<string, Action>();
  for (const x of [...a, ...b]) m.set(x.action_id, x);
  return [...m.values()].sort((p, q) => Date.parse(p.created_at) - Date.parse(q.created_at));
}
