/*
 * The lifecycle table of docs/operator_api.md on the client side: which
 * action buttons an alert in a given status offers. The server is the
 * judge (it answers 409 otherwise); this only keeps the buttons honest.
 */
import type { Action, ActionType, Alert, AlertStatus } from '../api/types';

export interface ActionButton {
  type: ActionType;
  label: string;
  /** POST path below /alerts/{id}; the generic /actions takes {action_type}. */
  endpoint: 'acknowledge' | 'assign' | 'actions';
  testId: string;
}

export const ACTION_BUTTONS: readonly ActionButton[] = [
  { type: 'ACKNOWLEDGE', label: 'Acknowledge', endpoint: 'acknowledge', testId: 'action-acknowledge' },
  { type: 'ASSIGN', label: 'Assign to me', endpoint: 'assign', testId: 'action-assign' },
  { type: 'PULL_OVER_SIMULATED', label: 'Pull over (simulated)', endpoint: 'actions', testId: 'action-pull-over' },
  { type: 'REQUEST_REMOTE_ASSIST', label: 'Request remote assist', endpoint: 'actions', testId: 'action-remote-assist' },
  { type: 'RESUME', label: 'Resume', endpoint: 'actions', testId: 'action-resume' },
  { type: 'RESOLVE', label: 'Resolve', endpoint: 'actions', testId: 'action-resolve' },
  { type: 'DISMISS', label: 'Dismiss', endpoint: 'actions', testId: 'action-dismiss' },
];

const ACTIVE: readonly AlertStatus[] = ['OPEN', 'ACKNOWLEDGED'];

export function isActive(status: AlertStatus): boolean {
  return ACTIVE.includes(status);
}

/**
 * Whether the alert's pull-over is in progress: the server's
 * pullover_due_at when the alert carries the field, else from its actions
 * (oldest first): a PULL_OVER_SIMULATED not followed by RESUME, RESOLVE or
 * DISMISS, on an alert that is still active.
 */
export function pullOverInProgress(
  alert: Pick<Alert, 'alert_status'> & { pullover_due_at?: string | null },
  actions: readonly Action[],
): boolean {
  if (!isActive(alert.alert_status)) return false;
  if (alert.pullover_due_at !== undefined) return alert.pullover_due_at !== null;
  let pending = false;
  for (const a of actions) {
    if (a.action_type === 'PULL_OVER_SIMULATED') pending = true;
    else if (a.action_type === 'RESUME' || a.action_type === 'RESOLVE' || a.action_type === 'DISMISS') pending = false;
  }
  return pending;
}

/**
 * Whether an action is allowed now. `pullOverPending` is this alert's
 * pull-over in progress; `vehiclePullOver` is any pull-over in progress on
 * the vehicle (its state UNDER_INTERVENTION).
 */
export function actionAllowed(
  type: ActionType,
  status: AlertStatus,
  pullOverPending: boolean,
  vehiclePullOver: boolean,
): boolean {
  switch (type) {
    case 'ACKNOWLEDGE':
      return status === 'OPEN';
    case 'ASSIGN':
    case 'REQUEST_REMOTE_ASSIST':
    case 'RESOLVE':
    case 'DISMISS':
      return isActive(status);
    case 'PULL_OVER_SIMULATED':
      return isActive(status) && !pullOverPending && !vehiclePullOver;
    case 'RESUME':
      return isActive(status) && pullOverPending;
  }
}
