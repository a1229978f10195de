import { useEffect, useRef, useState } from 'preact/hooks';

interface Props {
  /** the first button's text, e.g. "Remove device" */
  label: string;
  /** the question asked before doing it */
  question: string;
  /** the confirming button's text */
  confirm: string;
  onConfirm(): Promise<void> | void;
  danger?: boolean;
  ariaLabel?: string;
}

/** A destructive action asks once more, inline, with the focus on the answer. */
export function Confirm({ label, question, confirm, onConfirm, danger = true, ariaLabel }: Props) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const yes = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (open) yes.current?.focus();
  }, [open]);

  if (!open)
    return (
      <button
        type="button"
        class={danger ? 'danger' : undefined}
        aria-label={ariaLabel}
        onClick={() => setOpen(true)}
      >
        {label}
      </button>
    );
  return (
    <fieldset class="confirm">
      <legend class="sr-only">{ariaLabel ?? label}</legend>
      <p>{question}</p>
      <div class="actions">
        <button
          type="button"
          ref={yes}
          class={danger ? 'danger' : 'primary'}
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            try {
              await onConfirm();
            } finally {
              setBusy(false);
              setOpen(false);
            }
          }}
        >
          {confirm}
        </button>
        <button type="button" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
    </fieldset>
  );
}
