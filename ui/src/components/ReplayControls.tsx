/*
 * Replay control: the dataset's scenes, a scene range and speed, start and
 * stop, and the replays' status (GET /replay/status every 2 s).
 */
import { useEffect, useState } from 'react';
import { api } from '../api/rest';
import type { Replay, ScenesResponse } from '../api/types';

const SPEEDS = ['1', '10', '50', '100', 'max'] as const;
const POLL_MS = 2000;

export function ReplayControls() {
  const [scenes, setScenes] = useState<ScenesResponse | null>(null);
  const [range, setRange] = useState('');
  const [speed, setSpeed] = useState<string>('50');
  const [replays, setReplays] = useState<Replay[]>([]);
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api
      .scenes()
      .then((s) => {
        setScenes(s);
        if (s.scenes.length) setRange((r) => r || `0-${s.scenes.length - 1}`);
      })
      .catch((e: Error) => setError(e.message));
    let gone = false;
    const poll = () =>
      api
        .replays()
        .then((r) => !gone && setReplays(r.replays))
        .catch(() => {});
    void poll();
    const t = setInterval(poll, POLL_MS);
    return () => {
      gone = true;
      clearInterval(t);
    };
  }, []);

  const running = replays.find((r) => r.status === 'running');
  const start = async () => {
    setBusy(true);
    setError('');
    try {
      const r = await api.startReplay(range, speed === 'max' ? 'max' : Number(speed));
      setReplays((list) => [r, ...list.filter((x) => x.replay_id !== r.replay_id)]);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const stop = async () => {
    if (!running) return;
    setBusy(true);
    setError('');
    try {
      const r = await api.stopReplay(running.replay_id);
      setReplays((list) => list.map((x) => (x.replay_id === r.replay_id ? r : x)));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="panel replay" data-testid="replay-controls">
      <h2>Replay</h2>
      <p className="muted small" title={scenes?.dataset}>
        {scenes ? `${scenes.scenes.length} scenes · ${scenes.dataset.split('/').pop()}` : 'no dataset info'}
      </p>
      <div className="replay-form">
        <label>
          scenes
          <input value={range} onChange={(e) => setRange(e.target.value)} placeholder="0-2,5" data-testid="replay-scenes" />
        </label>
        <label>
          speed
          <select value={speed} onChange={(e) => setSpeed(e.target.value)} data-testid="replay-speed">
            {SPEEDS.map((s) => (
              <option key={s} value={s}>
                {s === 'max' ? 'max' : `${s}×`}
              </option>
            ))}
          </select>
        </label>
        <button onClick={() => void start()} disabled={busy || !range.trim()} data-testid="replay-start">
          Start
        </button>
        <button onClick={() => void stop()} disabled={busy || !running} data-testid="replay-stop">
          Stop
        </button>
      </div>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <ul className="mini" data-testid="replay-status">
        {replays.slice(0, 3).map((r) => (
          <li key={String(r.replay_id)} data-status={r.status}>
            <span className={`rstatus rs-${r.status}`}>{r.status}</span> scenes {r.scenes} @ {String(r.speed)} ·{' '}
            {r.events.toLocaleString()} events
            {r.status === 'running' ? ` · ${Math.round(r.events_per_s).toLocaleString()}/s` : ''}
            {r.error ? <span className="error small"> {r.error}</span> : null}
          </li>
        ))}
      </ul>
    </section>
  );
}
