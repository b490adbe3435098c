/* Sign-in: the operator pastes the token printed by `./tools/fleetops token NAME`. */
import { useState, type FormEvent } from 'react';
import { startSession } from '../state/session';
import { useUi } from '../state/store';

export function LoginForm() {
  const message = useUi((s) => s.authMessage);
  const [token, setToken] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (token.trim()) startSession(token.trim());
  };
  return (
    <div className="login">
      <form onSubmit={submit} data-testid="login-form">
        <h1>FleetOps</h1>
        <p className="muted">Operator sign-in</p>
        {message && (
          <p className="error" role="alert" data-testid="login-message">
            {message}
          </p>
        )}
        <label>
          Token
          <input
            type="password"
            autoComplete="off"
            value={token}
            onChange={(e) => setToken(e.target.value)}
            data-testid="login-token"
            autoFocus
          />
        </label>
        <button type="submit" disabled={!token.trim()} data-testid="login-submit">
          Sign in
        </button>
        <p className="muted small">
          Get one with <code>./tools/fleetops token NAME</code>, or open a link ending in <code>#token=…</code>.
        </p>
      </form>
    </div>
  );
}
