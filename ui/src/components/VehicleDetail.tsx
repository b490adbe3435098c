/*
 * The selected vehicle: live state and position from the store, and from
 * GET /vehicles/{id} (refreshed every 2 s while shown) its open alerts and
 * recent telemetry.
 */
import { useEffect, useState } from 'react';
import { api } from '../api/rest';
import type { VehicleDetailResponse } from '../api/types';
import { fmt } from '../lib/evidence';
import { fleet, flyToVehicle, selectAlert, selectVehicle, useUi } from '../state/store';
import { useThrottled } from '../state/useThrottled';

const REFRESH_MS = 2000;

export function VehicleDetail() {
  const id = useUi((s) => s.selectedVehicleId);
  if (!id) return null;
  return <Detail key={id} id={id} />;
}

function Detail({ id }: { id: string }) {
  const live = useThrottled(() => {
    const v = fleet.vehicles.get(id);
    return v ? { ...v } : null;
  }, 250, [id]);
  const [detail, setDetail] = useState<VehicleDetailResponse | null>(null);
  const [error, setError] = useState('');

  useEffect(() => {
    let gone = false;
    const load = () =>
      api
        .vehicle(id)
        .then((d) => {
          if (gone) return;
          setDetail(d);
          setError('');
          if (!fleet.vehicles.has(id)) {
            fleet.applyVehicles([d.vehicle]);
            flyToVehicle(id);
          }
        })
        .catch((e: Error) => !gone && setError(e.message));
    void load();
    const t = setInterval(load, REFRESH_MS);
    return () => {
      gone = true;
      clearInterval(t);
    };
  }, [id]);

  const v = live ?? detail?.vehicle ?? null;
  const lngLat = live?.lngLat ?? null;
  const telemetry = detail?.telemetry.slice(-12).reverse() ?? [];
  return (
    <section className="panel vehicle" data-testid="vehicle-detail" data-vehicle-id={id} data-state={v?.state ?? ''}>
      <h2>
        <span className={`state-dot st-${v?.state ?? 'UNKNOWN'}`} /> {id}
        <button className="ghost close" onClick={() => selectVehicle(null)} aria-label="close">
          ×
        </button>
      </h2>
      {error && <p className="error">{error}</p>}
      {v && (
        <dl className="kv">
          <dt>state</dt>
          <dd data-testid="vehicle-state">{v.state}</dd>
          <dt>position</dt>
          <dd>
            {v.x != null && v.y != null ? `${fmt(v.x)}, ${fmt(v.y)} m` : '–'}
            {lngLat ? (
              <span className="muted small">
                {' '}
                ({lngLat[1].toFixed(6)}, {lngLat[0].toFixed(6)})
              </span>
            ) : null}
          </dd>
          <dt>speed</dt>
          <dd>{v.speed != null ? `${v.speed.toFixed(2)} m/s` : '–'}</dd>
          <dt>accel</dt>
          <dd>{v.acceleration != null ? `${v.acceleration.toFixed(2)} m/s²` : '–'}</dd>
          <dt>frame</dt>
          <dd>
            {v.frame_index ?? '–'} <span className="muted small">{v.scene_id}</span>
          </dd>
        </dl>
      )}
      <h3>Active alerts</h3>
      <ul className="mini">
        {(detail?.alerts ?? []).map((a) => (
          <li key={a.alert_id}>
            <button className="link" onClick={() => selectAlert(a.alert_id, a.vehicle_id)}>
              <span className={`badge sev-${a.severity}`}>{a.severity}</span> {a.anomaly_type} · {a.alert_status.toLowerCase()}
            </button>
          </li>
        ))}
        {detail && detail.alerts.length === 0 && <li className="muted">none</li>}
      </ul>
      <h3>Recent telemetry</h3>
      <table className="telemetry">
        <thead>
          <tr>
            <th>frame</th>
            <th>x</th>
            <th>y</th>
            <th>m/s</th>
            <th>m/s²</th>
          </tr>
        </thead>
        <tbody>
          {telemetry.map((t) => (
            <tr key={`${t.frame_index}-${t.event_time}`}>
              <td>{t.frame_index}</td>
              <td>{fmt(t.x)}</td>
              <td>{fmt(t.y)}</td>
              <td>{fmt(t.speed)}</td>
              <td>{fmt(t.acceleration)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
