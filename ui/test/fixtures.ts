import type { Alert, Vehicle } from '../src/api/types';

export function alert(over: Partial<Alert> = {}): Alert {
  return {
    alert_id: 'a1',
    anomaly_id: 'n1',
    event_id: 'e1',
    vehicle_id: 'scene_000_track_1',
    alert_status: 'OPEN',
    severity: 'WARNING',
    anomaly_type: 'sudden_deceleration',
    triggered_rule: 'hard_braking',
    assigned_operator_id: null,
    assigned_operator: null,
    event_time: '2026-11-23T12:00:00.000Z',
    created_at: '2026-11-23T12:00:01.000Z',
    updated_at: '2026-11-23T12:00:01.000Z',
    acknowledged_at: null,
    resolved_at: null,
    ...over,
  };
}

export function vehicle(over: Partial<Vehicle> = {}): Vehicle {
  return {
    vehicle_id: 'scene_000_track_1',
    scene_id: 'scene_000',
    state: 'NORMAL',
    x: 0,
    y: 0,
    speed: 5,
    acceleration: 0.1,
    yaw: 0,
    frame_index: 0,
    event_time: '2026-11-23T12:00:00.000Z',
    open_alerts: 0,
    ...over,
  };
}
