import { useState } from 'preact/hooks';
import { del, get, patch, post } from '../api.js';
import { session } from '../app.js';
import { Badge } from '../components/Badge.js';
import { Confirm } from '../components/Confirm.js';
import { Secret } from '../components/Secret.js';
import { describe } from '../errors.js';
import { ago, dateTime } from '../format.js';
import { usePoll, useStore, useTitle } from '../hooks.js';
import { ROLES } from '../roles.js';
import type { ApiToken, Role, User } from '../types.js';

const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);

function RoleSelect({ id, value, onChange }: { id: string; value: Role; onChange(role: Role): void }) {
  return (
    <select id={id} value={value} onChange={(e) => onChange(e.currentTarget.value as Role)}>
      {ROLES.map((r) => (
        <option key={r} value={r}>
          {r}
        </option>
      ))}
    </select>
  );
}

function UserRow({
  user,
  me,
  reload,
  say,
}: {
  user: User;
  me: string | undefined;
  reload(): void;
  say(text: string, error?: boolean): void;
}) {
  const role = useStore(session)?.role;
  const [chosen, setChosen] = useState<Role>(user.role);
  const locked = user.locked_until !== undefined && user.locked_until > Date.now();
  const fieldId = `role-${user.name}`;

  async function act(run: () => Promise<unknown>, done: string, doing: string) {
    try {
      await run();
      say(done);
      reload();
    } catch (e) {
      say(describe(e, role, doing), true);
    }
  }

  return (
    <li class="card user" aria-label={user.name}>
      <div class="group-head">
        <h3>
          {user.name}
          {user.name === me ? ' (you)' : ''}
        </h3>
        {user.onboarding_pending ? (
          <Badge tone="info">Waiting for onboarding</Badge>
        ) : locked ? (
          <Badge tone="bad" title={`${user.failures} failed attempts`}>
            Locked until {dateTime(user.locked_until!)}
          </Badge>
        ) : (
          <Badge tone="ok">Active</Badge>
        )}
      </div>
      <p class="muted">
        Added {dateTime(user.created)}
        {user.failures > 0 ? ` · ${user.failures} failed log-ins` : ''}
      </p>
      <form
        class="inline-edit"
        onSubmit={(e) => {
          e.preventDefault();
          void act(
            () => patch(`/api/users/${encodeURIComponent(user.name)}`, { role: chosen }),
            `${user.name} is now ${chosen}.`,
            'change roles',
          );
        }}
      >
        <label for={fieldId}>Role of {user.name}</label>
        <RoleSelect id={fieldId} value={chosen} onChange={setChosen} />
        <button type="submit" disabled={chosen === user.role}>
          Change role
        </button>
      </form>
      <div class="actions">
        {(locked || user.failures > 0) && (
          <button
            type="button"
            aria-label={`Unlock ${user.name}`}
            onClick={() =>
              act(
                () => post(`/api/users/${encodeURIComponent(user.name)}/unlock`),
                `${user.name} is unlocked.`,
                'unlock users',
              )
            }
          >
            Unlock
          </button>
        )}
        <Confirm
          label="Remove"
          ariaLabel={`Remove ${user.name}`}
          question={`Remove ${user.name}? Their sessions end at once.`}
          confirm={`Remove ${user.name}`}
          onConfirm={() =>
            act(
              () => del(`/api/users/${encodeURIComponent(user.name)}`),
              `${user.name} was removed.`,
              'remove users',
            )
          }
        />
      </div>
    </li>
  );
}

function People() {
  const s = useStore(session);
  const { data, error, reload } = usePoll(() => get<User[]>('/api/users'), 0);
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [link, setLink] = useState<{ user: string; url: string } | undefined>();
  const [message, setMessage] = useState<{ text: string; error: boolean } | undefined>();
  const say = (text: string, error = false) => setMessage({ text, error });

  async function add(event: Event) {
    event.preventDefault();
    try {
      const answer = await post<{ user: string; role: Role; onboarding_url: string }>('/api/users', {
        name,
        role,
      });
      setLink({ user: answer.user, url: new URL(answer.onboarding_url, location.origin).href });
      setName('');
      say(`${answer.user} was added as ${answer.role}.`);
      reload();
    } catch (e) {
      say(describe(e, s?.role, 'add users'), true);
    }
  }

  return (
    <section aria-labelledby="people">
      <h2 id="people">People</h2>
      {error !== undefined && (
        <p class="notice error" role="alert">
          {describe(error, s?.role, 'manage users')}
        </p>
      )}
      <form class="card stack" onSubmit={add} aria-labelledby="add-user">
        <h3 id="add-user">Add a person</h3>
        <div class="row-fields">
          <div class="field">
            <label for="new-user-name">Name</label>
            <input
              id="new-user-name"
              required
              maxLength={64}
              autocapitalize="none"
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          </div>
          <div class="field">
            <label for="new-user-role">Role</label>
            <RoleSelect id="new-user-role" value={role} onChange={setRole} />
          </div>
        </div>
        <button type="submit" class="primary">
          Add user
        </button>
        {link && <Secret label={`Onboarding link for ${link.user}`} value={link.url} />}
      </form>
      {message && (
        <p class={message.error ? 'notice error' : 'notice'} role={message.error ? 'alert' : 'status'}>
          {message.text}
        </p>
      )}
      <ul class="cards">
        {data?.sort(byName).map((user) => (
          <UserRow key={user.name} user={user} me={s?.user} reload={reload} say={say} />
        ))}
      </ul>
    </section>
  );
}

function Tokens() {
  const s = useStore(session);
  const { data, error, reload } = usePoll(() => get<ApiToken[]>('/api/tokens'), 0);
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [created, setCreated] = useState<{ name: string; token: string } | undefined>();
  const [message, setMessage] = useState<{ text: string; error: boolean } | undefined>();

  async function create(event: Event) {
    event.preventDefault();
    try {
      const answer = await post<{ name: string; role: Role; token: string }>(
        '/api/tokens',
        name ? { role, name } : { role },
      );
      setCreated({ name: answer.name, token: answer.token });
      setName('');
      setMessage(undefined);
      reload();
    } catch (e) {
      setMessage({ text: describe(e, s?.role, 'create tokens'), error: true });
    }
  }

  return (
    <section aria-labelledby="tokens">
      <h2 id="tokens">API tokens</h2>
      <p class="muted">
        For scripts and Prometheus: sent as <code>Authorization: Bearer &lt;token&gt;</code>.
      </p>
      {error !== undefined && (
        <p class="notice error" role="alert">
          {describe(error, s?.role, 'manage tokens')}
        </p>
      )}
      <form class="card stack" onSubmit={create} aria-labelledby="create-token">
        <h3 id="create-token">Create a token</h3>
        <div class="row-fields">
          <div class="field">
            <label for="new-token-name">Token name (optional)</label>
            <input
              id="new-token-name"
              maxLength={64}
              autocapitalize="none"
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          </div>
          <div class="field">
            <label for="new-token-role">Token role</label>
            <RoleSelect id="new-token-role" value={role} onChange={setRole} />
          </div>
        </div>
        <button type="submit" class="primary">
          Create token
        </button>
        {created && <Secret label={`Token ${created.name}`} value={created.token} />}
      </form>
      {message && (
        <p class={message.error ? 'notice error' : 'notice'} role={message.error ? 'alert' : 'status'}>
          {message.text}
        </p>
      )}
      {data && data.length === 0 && <p class="muted">No tokens.</p>}
      <ul class="cards">
        {data?.sort(byName).map((t) => (
          <li key={t.name} class="card row-between" aria-label={`Token ${t.name}`}>
            <span>
              <strong>{t.name}</strong> <span class="muted">({t.role})</span>
              <br />
              <span class="muted">
                created {dateTime(t.created)} ·{' '}
                {t.last_used ? `last used ${ago(t.last_used, Date.now())}` : 'never used'}
              </span>
            </span>
            <Confirm
              label="Revoke"
              ariaLabel={`Revoke token ${t.name}`}
              question={`Revoke ${t.name}? Anything using it stops working at once.`}
              confirm="Revoke it"
              onConfirm={async () => {
                try {
                  await del(`/api/tokens/${encodeURIComponent(t.name)}`);
                  setMessage({ text: `${t.name} was revoked.`, error: false });
                  reload();
                } catch (e) {
                  setMessage({ text: describe(e, s?.role, 'revoke tokens'), error: true });
                }
              }}
            />
          </li>
        ))}
      </ul>
    </section>
  );
}

export function Users() {
  useTitle('Users and tokens');
  return (
    <>
      <h1 tabIndex={-1}>Users and tokens</h1>
      <People />
      <Tokens />
    </>
  );
}
