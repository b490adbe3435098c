import { describe, expect, it } from 'vitest';
import { ACTION_TYPES, ALERT_STATUSES, type Action, type ActionType, type AlertStatus } from '../src/api/types';
import { ACTION_BUTTONS, actionAllowed, pullOverInProgress } from '../src/lib/lifecycle';

// docs/operator_api.md's lifecycle table, written out as a matrix.
const ALLOWED: Record<ActionType, AlertStatus[]> = {
  ACKNOWLEDGE: ['OPEN'],
  ASSIGN: ['OPEN', 'ACKNOWLEDGED'],
  PULL_OVER_SIMULATED: ['OPEN', 'ACKNOWLEDGED'],
  REQUEST_REMOTE_ASSIST: ['OPEN', 'ACKNOWLEDGED'],
  RESUME: [],
  RESOLVE: ['OPEN', 'ACKNOWLEDGED'],
  DISMISS: ['OPEN', 'ACKNOWLEDGED'],
};

describe('button enabling per status', () => {
  for (const type of ACTION_TYPES)
    for (const status of ALERT_STATUSES)
      it(`${type} on ${status} without a pull-over`, () => {
        expect(actionAllowed(type, status, false, false)).toBe(ALLOWED[type].includes(status));
      });

  it('during this alert\'s pull-over: RESUME yes, another PULL_OVER no', () => {
    expect(actionAllowed('RESUME', 'ACKNOWLEDGED', true, true)).toBe(true);
    expect(actionAllowed('PULL_OVER_SIMULATED', 'ACKNOWLEDGED', true, true)).toBe(false);
    expect(actionAllowed('RESOLVE', 'ACKNOWLEDGED', true, true)).toBe(true);
  });

  it('another alert\'s pull-over on the vehicle blocks PULL_OVER only', () => {
    expect(actionAllowed('PULL_OVER_SIMULATED', 'OPEN', false, true)).toBe(false);
    expect(actionAllowed('RESUME', 'OPEN', false, true)).toBe(false);
    expect(actionAllowed('ACKNOWLEDGE', 'OPEN', false, true)).toBe(true);
  });

  it('a closed alert offers nothing, even with a stale pull-over', () => {
    for (const t of ACTION_TYPES) expect(actionAllowed(t, 'RESOLVED', true, true)).toBe(false);
  });

  it('every action type has exactly one button, the generic ones post to /actions', () => {
    expect(ACTION_BUTTONS.map((b) => b.type).sort()).toEqual([...ACTION_TYPES].sort());
    expect(ACTION_BUTTONS.find((b) => b.type === 'ACKNOWLEDGE')!.endpoint).toBe('acknowledge');
    expect(ACTION_BUTTONS.find((b) => b.type === 'ASSIGN')!.endpoint).toBe('assign');
    expect(ACTION_BUTTONS.find((b) => b.type === 'DISMISS')!.endpoint).toBe('actions');
  });
});

describe('pullOverInProgress', () => {
  const act = (action_type: ActionType, s: number): Action => ({
    action_id: `x${s}`,
    alert_id: 'a',
    vehicle_id: 'v',
    operator_id: 1,
    operator_name: 'ana',
    action_type,
    metadata: {},
    created_at: `2026-11-23T12:00:0${s}.000Z`,
  });
  it('follows the actions', () => {
    const open = { alert_status: 'ACKNOWLEDGED' as const };
    expect(pullOverInProgress(open, [])).toBe(false);
    expect(pullOverInProgress(open, [act('ACKNOWLEDGE', 1), act('PULL_OVER_SIMULATED', 2)])).toBe(true);
    expect(pullOverInProgress(open, [act('PULL_OVER_SIMULATED', 2), act('RESUME', 3)])).toBe(false);
    expect(pullOverInProgress(open, [act('PULL_OVER_SIMULATED', 2), act('RESUME', 3), act('PULL_OVER_SIMULATED', 4)])).toBe(true);
    expect(pullOverInProgress({ alert_status: 'RESOLVED' }, [act('PULL_OVER_SIMULATED', 2)])).toBe(false);
  });
  it('prefers the server\'s pullover_due_at when the alert has it', () => {
    const pulled = [act('PULL_OVER_SIMULATED', 2)];
    expect(pullOverInProgress({ alert_status: 'ACKNOWLEDGED', pullover_due_at: null }, pulled)).toBe(false);
    expect(pullOverInProgress({ alert_status: 'ACKNOWLEDGED', pullover_due_at: '2026-11-23T12:00:07.000Z' }, [])).toBe(true);
    expect(pullOverInProgress({ alert_status: 'RESOLVED', pullover_due_at: '2026-11-23T12:00:07.000Z' }, [])).toBe(false);
  });
});
