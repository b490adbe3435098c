/*
 * The objects of docs/operator_api.md as TypeScript types: what the REST
 * answers and the /ws messages carry. Field names are the server's.
 */

export const ALERT_STATUSES = ['OPEN', 'ACKNOWLEDGED', 'RESOLVED', 'DISMISSED'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

export const SEVERITIES = ['CRITICAL', 'WARNING', 'INFO'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const VEHICLE_STATES = ['NORMAL', 'DEGRADED', 'ALERTING', 'UNDER_INTERVENTION'] as const;
export type VehicleState = (typeof VEHICLE_STATES)[number];

export const ACTION_TYPES = [
  'ACKNOWLEDGE',
  'ASSIGN',
  'PULL_OVER_SIMULATED',
  'REQUEST_REMOTE_ASSIST',
  'RESUME',
  'RESOLVE',
  'DISMISS',
] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

export interface Alert {
  alert_id: string;
  anomaly_id: string;
  event_id: string;
  vehicle_id: string;
  alert_status: AlertStatus;
  severity: Severity;
  anomaly_type: string;
  triggered_rule: string;
  assigned_operator_id: number | null;
  assigned_operator: string | null;
  event_time: string;
  created_at: string;
  updated_at: string;
  acknowledged_at: string | null;
  resolved_at: string | null;
  /** When this alert's simulated pull-over in progress completes; null when none is. */
  pullover_due_at?: string | null;
}

export interface Evidence {
  frame_indices: number[];
  velocity_history: number[];
  acceleration_history: number[];
}

export interface AlertDetail extends Alert {
  features: Record<string, number>;
  thresholds: Record<string, number>;
  evidence: Evidence;
}

export interface Vehicle {
  vehicle_id: string;
  scene_id: string | null;
  state: VehicleState;
  x: number | null;
  y: number | null;
  speed: number | null;
  acceleration: number | null;
  yaw: number | null;
  frame_index: number | null;
  event_time: string | null;
  open_alerts: number;
}

export interface Action {
  action_id: string;
  alert_id: string;
  vehicle_id: string;
  operator_id: number;
  operator_name: string;
  action_type: ActionType;
  metadata: Record<string, unknown>;
  created_at: string;
}

export interface Incident {
  incident_id: string;
  alert_id: string;
  vehicle_id: string;
  summary: Record<string, unknown>;
  resolved_at: string;
}

export interface TelemetryPoint {
  frame_index: number;
  event_time: string;
  x: number;
  y: number;
  speed: number;
  acceleration: number;
  yaw: number;
}

export interface AlertDetailResponse {
  alert: AlertDetail;
  vehicle: Vehicle | null;
  actions: Action[];
  incident: Incident | null;
}

export interface VehicleDetailResponse {
  vehicle: Vehicle;
  alerts: Alert[];
  telemetry: TelemetryPoint[];
}

export interface ActionResponse {
  alert: Alert;
  action: Action;
}

export interface SceneInfo {
  scene_index: number;
  scene_id: string;
  frames: number;
  agents: number;
}

export interface ScenesResponse {
  dataset: string;
  scenes: SceneInfo[];
  /** Not in the contract yet: the dataset's own world_to_ecef, when served. */
  world_to_ecef?: number[][];
}

export type ReplayStatus = 'running' | 'finished' | 'failed' | 'stopped';

export interface Replay {
  replay_id: string | number;
  status: ReplayStatus;
  scenes: string;
  speed: number | 'max';
  events: number;
  events_per_s: number;
  started_at: string;
  ended_at: string | null;
  exit_code: number | null;
  error: string | null;
}

export interface Stats {
  events_per_s: number;
  latency_p99_ms: number;
  open_alerts: Record<Severity, number>;
  vehicles: number;
}

export type ServerMessage =
  | { type: 'snapshot'; alerts: Alert[]; vehicles: Vehicle[]; server_time: string }
  /** `alerts`: the alerts of one ingest transaction (`alert` is the older single form). */
  | { type: 'alert_created'; alerts?: Alert[]; alert?: Alert }
  | { type: 'alert_updated'; alert: Alert }
  | { type: 'vehicle_updated'; vehicles: Vehicle[] }
  | { type: 'action_executed'; action: Action }
  | ({ type: 'stats' } & Stats);
