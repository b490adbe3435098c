/*
 * The operator's buttons for one alert, enabled where the lifecycle allows.
 * A click posts the action; the answer's alert and action go straight into
 * the store (the /ws echo is idempotent), an error stays visible below.
 */
import { useState } from 'react';
import { api } from '../api/rest';
import type { Alert } from '../api/types';
import { ACTION_BUTTONS, actionAllowed, type ActionButton } from '../lib/lifecycle';
import { fleet, touch, useUi } from '../state/store';

export function ActionBar({
  alert,
  pullOverPending,
  vehiclePullOver,
  onDone,
}: {
  alert: Alert;
  pullOverPending: boolean;
  vehiclePullOver: boolean;
  onDone: () => void;
}) {
  const [busy, setBusy] = useState<string | null>(null);
  const error = useUi((s) => s.actionError);

  const run = async (b: ActionButton) => {
    setBusy(b.type);
    useUi.setState({ actionError: '' });
    try {
      const r = await api.act(alert.alert_id, b);
      fleet.applyAlert(r.alert);
      fleet.applyAction(r.action);
      touch();
      onDone();
    } catch (e) {
      useUi.setState({ actionError: (e as Error).message });
    } finally {
      setBusy(null);
    }
  };

  return (
    <div className="actions" data-testid="action-bar">
      {ACTION_BUTTONS.map((b) => {
        const allowed = actionAllowed(b.type, alert.alert_status, pullOverPending, vehiclePullOver);
        return (
          <button
            key={b.type}
            className={`act act-${b.type}`}
            data-testid={b.testId}
            data-action={b.type}
            disabled={!allowed || busy !== null}
            onClick={() => void run(b)}
          >
            {busy === b.type ? '…' : b.label}
          </button>
        );
      })}
      {error && (
        <p className="error" role="alert" data-testid="action-error">
          {error}
        </p>
      )}
    </div>
  );
}
