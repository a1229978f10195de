import { useState } from 'preact/hooks';
import { command } from '../api.js';
import { describe } from '../errors.js';
import type { Shown } from '../status.js';
import type { Entity, Role } from '../types.js';

const TOGGLES = new Set(['switch', 'light', 'fan']);

export function isCommandable(entity: Entity): boolean {
  return TOGGLES.has(entity.platform) || entity.platform === 'button';
}

/** Turn on / off, or press; the gateway's reply is shown beside the buttons. */
export function Command({ entity, shown, role }: { entity: Entity; shown: Shown; role: Role }) {
  const [reply, setReply] = useState<{ text: string; error: boolean } | undefined>();
  const [busy, setBusy] = useState(false);

  async function send(body: { value: unknown } | { action: string }) {
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
    } catch (error) {
      setReply({ text: describe(error, role, 'command entities'), error: true });
    } finally {
      setBusy(false);
    }
  }

  const buttons = [];
  if (entity.platform === 'button') {
    buttons.push(
      <button
        key="press"
        type="button"
        disabled={busy}
        aria-label={`Press ${entity.name}`}
        onClick={() => send({ action: 'press' })}
      >
        Press
      </button>,
    );
  } else {
    const on = shown.kind === 'value' ? shown.value === true : undefined;
    if (on !== true)
      buttons.push(
        <button
          key="on"
          type="button"
          disabled={busy}
          aria-label={`Turn on ${entity.name}`}
          onClick={() => send({ value: true })}
        >
          Turn on
        </button>,
      );
    if (on !== false)
      buttons.push(
        <button
          key="off"
          type="button"
          disabled={busy}
          aria-label={`Turn off ${entity.name}`}
          onClick={() => send({ value: false })}
        >
          Turn off
        </button>,
      );
  }
  return (
    <div class="command">
      {buttons}
      <span class={reply?.error ? 'reply error' : 'reply'} role="status">
        {reply?.text}
      </span>
    </div>
  );
}
