/*
 * The dashboard's store. `fleet` (FleetState) holds the operator's data
 * outside React and is mutated in place by /ws messages; the zustand store
 * holds what the UI chose (token, selection, filters, settings) plus the
 * version counters of `fleet`, bumped after each message, so that
 * subscribers can redraw: the map at most once per animation frame,
 * panels through useThrottled (a few times a second). Main thread only.
 */
import { create } from 'zustand';
import type { ServerMessage } from '../api/types';
import type { ConnectionState } from '../api/socket';
import { DEFAULT_FILTER, type AlertFilter } from '../lib/alerts';
import { FleetState } from './fleet';
import { DEFAULT_WORLD_TO_ECEF, type Matrix4 } from '../lib/geo';

export const fleet = new FleetState();

export interface Settings {
  /** A MapLibre style URL for a real base map; empty for the offline style. */
  styleUrl: string;
  matrix: Matrix4;
  /** Where the matrix came from, for the settings panel. */
  matrixSource: 'default' | 'settings' | 'url' | 'server';
}

export interface FlyTo {
  lngLat: [number, number];
  seq: number;
}

export interface UiState {
  token: string | null;
  authMessage: string;
  connection: ConnectionState;
  connectionDetail: string;
  /** Bumped after every applied message; see `fleet.*Version` for what changed. */
  tick: number;
  selectedAlertId: string | null;
  selectedVehicleId: string | null;
  filter: AlertFilter;
  settings: Settings;
  flyTo: FlyTo | null;
  /** Last error of an operator action, shown until the next action. */
  actionError: string;
}

export const useUi = create<UiState>(() => ({
  token: null,
  authMessage: '',
  connection: 'closed',
  connectionDetail: '',
  tick: 0,
  selectedAlertId: null,
  selectedVehicleId: null,
  filter: DEFAULT_FILTER,
  settings: { styleUrl: '', matrix: DEFAULT_WORLD_TO_ECEF, matrixSource: 'default' },
  flyTo: null,
  actionError: '',
}));

/** Applies a /ws message to `fleet` and tells subscribers. */
export function receive(m: ServerMessage): void {
  fleet.apply(m);
  useUi.setState((s) => ({ tick: s.tick + 1 }));
}

/** Tells subscribers that `fleet` changed outside receive() (REST merges). */
export function touch(): void {
  useUi.setState((s) => ({ tick: s.tick + 1 }));
}

export function signOut(message: string): void {
  useUi.setState({ token: null, authMessage: message, connection: 'closed', connectionDetail: '' });
}

export function selectAlert(alertId: string | null, vehicleId: string | null): void {
  fleet.setPinned(alertId ? [alertId] : []);
  useUi.setState({ selectedAlertId: alertId, selectedVehicleId: vehicleId ?? useUi.getState().selectedVehicleId, actionError: '' });
  if (vehicleId) flyToVehicle(vehicleId);
}

export function selectVehicle(vehicleId: string | null): void {
  useUi.setState({ selectedVehicleId: vehicleId });
}

export function flyToVehicle(vehicleId: string): void {
  const v = fleet.vehicles.get(vehicleId);
  if (v?.lngLat) useUi.setState((s) => ({ flyTo: { lngLat: v.lngLat!, seq: (s.flyTo?.seq ?? 0) + 1 } }));
}

export function setMatrix(matrix: Matrix4, source: Settings['matrixSource']): void {
  fleet.setMatrix(matrix);
  useUi.setState((s) => ({ settings: { ...s.settings, matrix, matrixSource: source }, tick: s.tick + 1 }));
}
