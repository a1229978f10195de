// Firmware updates: the rollout under way (its stage, each device, why it paused) with
// pause, resume and abort for admins, and the images in the firmware catalog.
import { useState } from 'preact/hooks';
import { get, type RolloutView, rolloutAction } from '../api.js';
import { session } from '../app.js';
import { Badge, type Tone } from '../components/Badge.js';
import { Confirm } from '../components/Confirm.js';
import { describe } from '../errors.js';
import { bytes, dateTime } from '../format.js';
import { usePoll, useStore, useTitle } from '../hooks.js';
import { canManage } from '../roles.js';

interface Image {
  id: string;
  version: string;
  chip: string;
  project: string;
  channel: string;
  size: number;
  signed: boolean;
  added_at: number;
}

/** often enough to watch a download move, rare enough for a page left open */
const POLL_MS = 2000;

const STATUS_TONE: Record<RolloutView['status'], Tone> = {
  running: 'info',
  paused: 'warn',
  completed: 'ok',
  aborted: 'muted',
};

const STATE_TEXT: Record<RolloutView['devices'][number]['state'], [string, Tone]> = {
  pending: ['Waiting', 'muted'],
  offered: ['Updating', 'info'],
  booted: ['Restarted, confirming', 'info'],
  confirmed: ['Updated', 'ok'],
  skipped: ['Already on it', 'muted'],
  failed: ['Failed', 'bad'],
};

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

function stageName(rollout: RolloutView, stage: number): string {
  if (rollout.canary > 0 && stage === 0) return 'Canary';
  return `Batch ${rollout.canary > 0 ? stage : stage + 1}`;
}

function Rollout({ rollout, admin, onChanged }: { rollout: RolloutView; admin: boolean; onChanged(): void }) {
  const role = useStore(session)?.role;
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState('');
  const [error, setError] = useState('');
  const active = rollout.status === 'running' || rollout.status === 'paused';

  async function act(op: 'pause' | 'resume' | 'abort') {
    setBusy(true);
    setError('');
    setMessage('');
    try {
      const answer = await rolloutAction(op);
      if ('queued' in answer) setMessage(answer.message);
      onChanged();
    } catch (e) {
      setError(describe(e, role, `${op} the rollout`));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="card" aria-labelledby="rollout">
      <div class="row-between">
        <h2 id="rollout">Rollout of {rollout.version}</h2>
        <Badge tone={STATUS_TONE[rollout.status]}>{capital(rollout.status)}</Badge>
      </div>
      <dl class="facts">
        <dt>Stage</dt>
        <dd>{capital(rollout.stage_label)}</dd>
        <dt>Devices</dt>
        <dd>
          {rollout.counts.confirmed ?? 0} of {rollout.devices.length} updated
          {rollout.counts.failed ? `, ${rollout.counts.failed} failed` : ''}
        </dd>
        <dt>Started</dt>
        <dd>{dateTime(rollout.created)}</dd>
      </dl>
      {rollout.status === 'paused' && (
        <p class="notice" role="status" data-testid="paused">
          {rollout.paused_device ? (
            <>
              Paused at <strong>{rollout.paused_device}</strong>: {rollout.paused_reason}
            </>
          ) : (
            <>Paused: {rollout.paused_reason ?? 'by request'}</>
          )}
        </p>
      )}
      {error && (
        <p class="notice error" role="alert">
          {error}
        </p>
      )}
      {message && <p class="notice">{message}</p>}
      {admin && active && (
        <div class="actions">
          {rollout.status === 'running' ? (
            <button type="button" disabled={busy} onClick={() => act('pause')}>
              Pause
            </button>
          ) : (
            <button type="button" class="primary" disabled={busy} onClick={() => act('resume')}>
              Resume
            </button>
          )}
          <Confirm
            label="Abort"
            question="Abort the rollout? Devices not yet confirmed go back to their old firmware."
            confirm="Abort rollout"
            onConfirm={() => act('abort')}
          />
        </div>
      )}
      <table>
        <thead>
          <tr>
            <th scope="col">Device</th>
            <th scope="col">Stage</th>
            <th scope="col">State</th>
            <th scope="col">From</th>
          </tr>
        </thead>
        <tbody>
          {rollout.devices.map((d) => {
            const [text, tone] = STATE_TEXT[d.state];
            return (
              <tr key={d.device} data-device={d.device}>
                <td>{d.device}</td>
                <td>{stageName(rollout, d.stage)}</td>
                <td>
                  <Badge tone={tone} title={d.reason}>
                    {d.state === 'offered' && d.percent !== undefined ? `${text} ${d.percent} %` : text}
                  </Badge>
                  {d.state === 'failed' && d.reason && <div class="muted">{d.reason}</div>}
                </td>
                <td>{d.from || '?'}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

export function Updates() {
  useTitle('Updates');
  const role = useStore(session)?.role;
  const admin = canManage(role);
  const current = usePoll(() => get<{ rollout: RolloutView | null }>('/api/ota/rollout'), POLL_MS);
  const images = usePoll(() => get<Image[]>('/api/ota/rollout/images'), 60_000);
  return (
    <>
      <h1 tabIndex={-1}>Updates</h1>
      {current.error !== undefined && (
        <p class="notice error" role="alert">
          {describe(current.error, role, 'see firmware updates')}
        </p>
      )}
      <div class="stack">
        {current.data?.rollout ? (
          <Rollout rollout={current.data.rollout} admin={admin} onChanged={current.reload} />
        ) : (
          current.data && (
            <section class="card empty">
              <p>No rollout yet.</p>
              <p class="hint">
                Start one with <code>sentinel ota rollout &lt;version&gt;</code>: a canary device first, then
                the rest in batches.
              </p>
            </section>
          )
        )}
        <section class="card" aria-labelledby="catalog">
          <h2 id="catalog">Firmware catalog</h2>
          {images.error !== undefined && (
            <p class="notice error" role="alert">
              {describe(images.error, role, 'see the firmware catalog')}
            </p>
          )}
          {images.data && images.data.length === 0 && (
            <p class="muted">
              No images yet: add one with <code>sentinel firmware add &lt;image&gt;</code>.
            </p>
          )}
          {images.data && images.data.length > 0 && (
            <table>
              <thead>
                <tr>
                  <th scope="col">Version</th>
                  <th scope="col">Project</th>
                  <th scope="col">Chip</th>
                  <th scope="col">Channel</th>
                  <th scope="col">Size</th>
                  <th scope="col">Signed</th>
                  <th scope="col">Added</th>
                </tr>
              </thead>
              <tbody>
                {images.data.map((image) => (
                  <tr key={image.id}>
                    <td>{image.version}</td>
                    <td>{image.project}</td>
                    <td>{image.chip}</td>
                    <td>{image.channel}</td>
                    <td>{bytes(image.size)}</td>
                    <td>{image.signed ? 'Yes' : 'No'}</td>
                    <td>{dateTime(image.added_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      </div>
    </>
  );
}
