import { useEffect, useState } from 'preact/hooks';
import { get, post } from '../api.js';
import { signedIn } from '../app.js';
import { Link } from '../components/Link.js';
import { ApiError } from '../errors.js';
import { useTitle } from '../hooks.js';
import { paths } from '../routes.js';
import type { Role, Session } from '../types.js';

const MIN_PASSWORD = 10;

/** The token of /onboarding#<token>, read once; the fragment is then dropped from the address bar. */
function takeToken(): string {
  const raw = location.hash.slice(1);
  if (raw) history.replaceState(null, '', location.pathname);
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

type Invite =
  | { state: 'checking' }
  | { state: 'used' }
  | { state: 'error'; message: string }
  | { state: 'ok'; user: string; role: Role };

export function Onboarding() {
  useTitle('Set your password');
  const [token, setToken] = useState(takeToken);
  const [invite, setInvite] = useState<Invite>(token ? { state: 'checking' } : { state: 'used' });

  // another link pasted into the same tab changes only the fragment
  useEffect(() => {
    const again = () => {
      const next = takeToken();
      if (next) {
        setToken(next);
        setInvite({ state: 'checking' });
      }
    };
    addEventListener('hashchange', again);
    return () => removeEventListener('hashchange', again);
  }, []);
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!token) return;
    get<{ user: string; role: Role }>(`/api/onboarding/${encodeURIComponent(token)}`, { expect401: true })
      .then((answer) => setInvite({ state: 'ok', user: answer.user, role: answer.role }))
      .catch((e) =>
        setInvite(
          e instanceof ApiError && (e.status === 410 || e.status === 404)
            ? { state: 'used' }
            : { state: 'error', message: e instanceof Error ? e.message : String(e) },
        ),
      );
  }, [token]);

  async function submit(event: Event) {
    event.preventDefault();
    setError('');
    if (password.length < MIN_PASSWORD)
      return setError(`The password needs at least ${MIN_PASSWORD} characters.`);
    if (password !== repeat) return setError('The two passwords are not the same.');
    setBusy(true);
    try {
      const s = await post<Session>('/api/onboarding', { token, password }, { expect401: true });
      signedIn(s, paths.dashboard());
    } catch (e) {
      if (e instanceof ApiError && (e.status === 410 || e.status === 404)) setInvite({ state: 'used' });
      else setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div class="narrow">
      <h1 tabIndex={-1}>Set your password</h1>
      {invite.state === 'checking' && <p role="status">Checking your link…</p>}
      {invite.state === 'used' && (
        <div class="notice error" role="alert">
          <p>This link has already been used, or it is not a valid link.</p>
          <p>
            Each link works once. If you set your password already, <Link to={paths.login()}>log in</Link>.
            Otherwise ask an admin for a new link.
          </p>
        </div>
      )}
      {invite.state === 'error' && (
        <p class="notice error" role="alert">
          Could not check the link: {invite.message}
        </p>
      )}
      {invite.state === 'ok' && (
        <form class="stack" onSubmit={submit}>
          <p>
            Welcome, <strong>{invite.user}</strong>. You will be able to{' '}
            {invite.role === 'viewer'
              ? 'see'
              : invite.role === 'operator'
                ? 'see and switch'
                : 'see, switch and manage'}{' '}
            everything in the house. Choose a password of at least {MIN_PASSWORD} characters.
          </p>
          <input type="text" name="username" autocomplete="username" value={invite.user} hidden readOnly />
          <div class="field">
            <label for="new-password">New password</label>
            <input
              id="new-password"
              type="password"
              autocomplete="new-password"
              minLength={MIN_PASSWORD}
              required
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          </div>
          <div class="field">
            <label for="repeat-password">Repeat the password</label>
            <input
              id="repeat-password"
              type="password"
              autocomplete="new-password"
              minLength={MIN_PASSWORD}
              required
              value={repeat}
              onInput={(e) => setRepeat(e.currentTarget.value)}
            />
          </div>
          {error && (
            <p class="notice error" role="alert">
              {error}
            </p>
          )}
          <button type="submit" class="primary" disabled={busy}>
            Set password
          </button>
        </form>
      )}
    </div>
  );
}
