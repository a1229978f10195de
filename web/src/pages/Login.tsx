import { useState } from 'preact/hooks';
import { post } from '../api.js';
import { signedIn } from '../app.js';
import { ApiError } from '../errors.js';
import { useNow, useTitle } from '../hooks.js';
import type { Session } from '../types.js';

export function Login({ next }: { next: string }) {
  useTitle('Log in');
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [retryAt, setRetryAt] = useState(0);
  const now = useNow(1000);
  const wait = Math.ceil((retryAt - now) / 1000);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError('');
    setRetryAt(0);
    try {
      const s = await post<Session>('/api/session', { user, password }, { expect401: true });
      signedIn(s, next);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) setError('Wrong user name or password.');
      else if (e instanceof ApiError && e.status === 429)
        setRetryAt(Date.now() + (e.retryAfter ?? 60) * 1000);
      else
        setError(e instanceof ApiError ? e.message : 'The gateway is not answering. Try again in a moment.');
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="narrow">
      <h1 tabIndex={-1}>Log in</h1>
      <form class="stack" onSubmit={submit}>
        <div class="field">
          <label for="login-user">User name</label>
          <input
            id="login-user"
            name="username"
            autocomplete="username"
            autocapitalize="none"
            required
            value={user}
            onInput={(e) => setUser(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="login-password">Password</label>
          <input
            id="login-password"
            name="password"
            type="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </div>
        {error && (
          <p class="notice error" role="alert">
            {error}
          </p>
        )}
        {wait > 0 && (
          <p class="notice error" role="alert">
            Too many attempts, try again in {wait} s.
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          Log in
        </button>
      </form>
      <p class="muted">
        No account yet? An admin adds you and gives you a one-time link to set your password.
      </p>
    </div>
  );
}
