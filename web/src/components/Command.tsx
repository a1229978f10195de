import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { command } from '../api.js';
import { numberProblem, numberRange } from '../controls.js';
import { describe } from '../errors.js';
import type { Shown } from '../status.js';
import type { Entity, Role, Value } from '../types.js';
import { Confirm } from './Confirm.js';

export { isCommandable } from '../controls.js';

type Body = { value: unknown } | { action: string };
type Reply = { text: string; error: boolean } | undefined;

/** The controls of an entity for its platform; the gateway's reply is shown beside them. */
export function Command({ entity, shown, role }: { entity: Entity; shown: Shown; role: Role }) {
  const [reply, setReply] = useState<Reply>();
  const [busy, setBusy] = useState(false);

  /** true when the device confirmed; the value on screen stays the device's own until it reports */
  async function send(body: Body): Promise<boolean> {
    setBusy(true);
    setReply({ text: 'Sending…', error: false });
    try {
      const answer = await command(entity.id, body);
      setReply(
        answer.ok
          ? { text: 'Done.', error: false }
          : {
              text: `Failed: ${answer.error?.message ?? answer.error?.code ?? 'no reason given'}`,
              error: true,
            },
      );
      return answer.ok;
    } catch (error) {
      setReply({ text: describe(error, role, 'command entities'), error: true });
      return false;
    } finally {
      setBusy(false);
    }
  }

  const current = shown.kind === 'value' ? shown.value : undefined;
  let controls: ComponentChildren;
  switch (entity.platform) {
    case 'button':
      controls = (
        <button
          type="button"
          disabled={busy}
          aria-label={`Press ${entity.name}`}
          onClick={() => send({ action: 'press' })}
        >
          Press
        </button>
      );
      break;
    case 'number':
    case 'climate':
      controls = <NumberControl entity={entity} current={current} busy={busy} send={send} />;
      break;
    case 'select':
    case 'text':
      controls = <ChoiceControl entity={entity} current={current} busy={busy} send={send} />;
      break;
    case 'lock':
      controls = <LockControl entity={entity} current={current} busy={busy} send={send} />;
      break;
    case 'cover':
      controls = (['open', 'stop', 'close'] as const).map((action) => (
        <button
          key={action}
          type="button"
          disabled={busy}
          aria-label={`${ACTION_LABEL[action]} ${entity.name}`}
          onClick={() => send({ action })}
        >
          {ACTION_LABEL[action]}
        </button>
      ));
      break;
    default: {
      const on = typeof current === 'boolean' ? current : undefined;
      controls = (
        <>
          {on !== true && (
            <button
              type="button"
              disabled={busy}
              aria-label={`Turn on ${entity.name}`}
              onClick={() => send({ value: true })}
            >
              Turn on
            </button>
          )}
          {on !== false && (
            <button
              type="button"
              disabled={busy}
              aria-label={`Turn off ${entity.name}`}
              onClick={() => send({ value: false })}
            >
              Turn off
            </button>
          )}
        </>
      );
    }
  }
  return (
    <div class="command">
      {controls}
      <span class={reply?.error ? 'reply error' : 'reply'} role="status">
        {reply?.text}
      </span>
    </div>
  );
}

const ACTION_LABEL = { open: 'Open', stop: 'Stop', close: 'Close' } as const;

interface ControlProps {
  entity: Entity;
  current: Value | undefined;
  busy: boolean;
  send(body: Body): Promise<boolean>;
}

/** A number within the entity's range and step; a climate entity's target temperature. */
function NumberControl({ entity, current, busy, send }: ControlProps) {
  // what the person typed; undefined: the device's own value is shown
  const [draft, setDraft] = useState<string | undefined>();
  const [touched, setTouched] = useState(false);
  const text = draft ?? (typeof current === 'number' ? String(current) : '');
  const problem = touched ? numberProblem(entity, text) : undefined;
  const id = `set-${entity.id}`;
  const range = numberRange(entity);
  const label = entity.platform === 'climate' ? `Target for ${entity.name}` : `New value for ${entity.name}`;

  async function submit(event: Event) {
    event.preventDefault();
    setTouched(true);
    if (numberProblem(entity, text)) return;
    await send({ value: Number(text) });
    // done or not, the field goes back to what the device reports: nothing optimistic stays
    setDraft(undefined);
    setTouched(false);
  }

  return (
    <form class="set-value" onSubmit={submit} noValidate>
      <label for={id} class="sr-only">
        {label}
      </label>
      <input
        id={id}
        type="number"
        inputMode="decimal"
        min={entity.min}
        max={entity.max}
        step={entity.step ?? 'any'}
        value={text}
        aria-invalid={problem !== undefined}
        aria-describedby={`${id}-hint`}
        onInput={(e) => {
          setDraft(e.currentTarget.value);
          setTouched(true);
        }}
        onKeyDown={(e) => {
          if (e.key !== 'Escape') return;
          setDraft(undefined);
          setTouched(false);
        }}
      />
      <button type="submit" disabled={busy || problem !== undefined} aria-label={`Set ${entity.name}`}>
        Set
      </button>
      <span id={`${id}-hint`} class={problem ? 'hint error' : 'hint'}>
        {problem ??
          (range ? `${range[0]!.toUpperCase()}${range.slice(1)}` : entity.unit ? `in ${entity.unit}` : '')}
      </span>
    </form>
  );
}

/** One of the entity's options (select), or a short text. */
function ChoiceControl({ entity, current, busy, send }: ControlProps) {
  const [draft, setDraft] = useState<string | undefined>();
  const text = draft ?? (typeof current === 'string' ? current : '');
  const id = `set-${entity.id}`;
  const options = entity.options ?? [];

  async function submit(event: Event) {
    event.preventDefault();
    await send({ value: text });
    setDraft(undefined);
  }

  return (
    <form class="set-value" onSubmit={submit}>
      <label for={id} class="sr-only">
        {entity.platform === 'select' ? `Choice for ${entity.name}` : `Text for ${entity.name}`}
      </label>
      {entity.platform === 'select' && options.length > 0 ? (
        <select id={id} value={text} onChange={(e) => setDraft(e.currentTarget.value)}>
          {!options.includes(text) && (
            <option value="" disabled>
              Choose…
            </option>
          )}
          {options.map((option) => (
            <option key={option} value={option}>
              {option}
            </option>
          ))}
        </select>
      ) : (
        <input
          id={id}
          type="text"
          maxLength={255}
          value={text}
          onInput={(e) => setDraft(e.currentTarget.value)}
        />
      )}
      <button type="submit" disabled={busy || text === ''} aria-label={`Set ${entity.name}`}>
        Set
      </button>
    </form>
  );
}

/** Lock at once; unlock only after a second yes. A lock reports true while unlocked. */
function LockControl({ entity, current, busy, send }: ControlProps) {
  const unlocked = typeof current === 'boolean' ? current : undefined;
  return (
    <>
      {unlocked !== false && (
        <button
          type="button"
          disabled={busy}
          aria-label={`Lock ${entity.name}`}
          onClick={() => send({ action: 'lock' })}
        >
          Lock
        </button>
      )}
      {unlocked !== true && (
        <Confirm
          label="Unlock"
          ariaLabel={`Unlock ${entity.name}`}
          question={`Unlock ${entity.name}?`}
          confirm="Yes, unlock"
          onConfirm={async () => {
            await send({ action: 'unlock' });
          }}
        />
      )}
    </>
  );
}
