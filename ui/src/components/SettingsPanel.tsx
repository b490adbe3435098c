/*
 * Settings: a base-map style URL (empty for the offline style) and the
 * dataset's world_to_ecef matrix (JSON, 4x4 or 16 numbers). Saved in
 * localStorage; ?style= and ?world_to_ecef= in the URL win at start.
 */
import { useState } from 'react';
import { DEFAULT_WORLD_TO_ECEF, parseMatrix4 } from '../lib/geo';
import { saveSettings } from '../state/session';
import { useUi } from '../state/store';

export function SettingsPanel({ onClose }: { onClose: () => void }) {
  const settings = useUi((s) => s.settings);
  const [style, setStyle] = useState(settings.styleUrl);
  const [matrix, setMatrix] = useState(JSON.stringify(settings.matrix));
  const [error, setError] = useState('');

  const save = () => {
    const m = parseMatrix4(safeParse(matrix));
    if (!m) {
      setError('world_to_ecef must be 4 rows of 4 numbers (or 16 numbers).');
      return;
    }
    saveSettings(style.trim(), m);
    onClose();
  };

  return (
    <section className="panel settings" data-testid="settings-panel">
      <h2>Settings</h2>
      <label>
        Base-map style URL <span className="muted small">(empty: offline grid)</span>
        <input value={style} onChange={(e) => setStyle(e.target.value)} placeholder="https://…/style.json" />
      </label>
      <label>
        world_to_ecef <span className="muted small">(now from {settings.matrixSource})</span>
        <textarea rows={4} value={matrix} onChange={(e) => setMatrix(e.target.value)} spellCheck={false} />
      </label>
      {error && <p className="error">{error}</p>}
      <div className="row-buttons">
        <button onClick={save}>Save</button>
        <button className="ghost" onClick={() => setMatrix(JSON.stringify(DEFAULT_WORLD_TO_ECEF))}>
          L5Kit default
        </button>
        <button className="ghost" onClick={onClose}>
          Cancel
        </button>
      </div>
    </section>
  );
}

function safeParse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}
