import { useId, useLayoutEffect, useRef, useState } from 'preact/hooks';

interface Props {
  /** the button that opens the form, e.g. "Rename" */
  label: string;
  /** its accessible name, e.g. "Rename Kitchen Temperature" */
  ariaLabel?: string;
  /** the field's label, e.g. "Entity name" */
  field: string;
  value: string;
  onSave(value: string): Promise<void>;
  required?: boolean;
  maxLength?: number;
  /** a datalist id offering choices */
  list?: string;
}

/** A value edited in place: a button, then a one-field form (Enter saves, Escape cancels). */
export function InlineEdit({
  label,
  ariaLabel,
  field,
  value,
  onSave,
  required,
  maxLength = 100,
  list,
}: Props) {
  const id = useId();
  const [open, setOpen] = useState(false);
  const [text, setText] = useState(value);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useLayoutEffect(() => {
    if (open) input.current?.focus();
  }, [open]);

  if (!open)
    return (
      <button
        type="button"
        class="quiet"
        aria-label={ariaLabel}
        onClick={() => {
          setText(value);
          setOpen(true);
        }}
      >
        {label}
      </button>
    );
  return (
    <form
      class="inline-edit"
      onSubmit={async (event) => {
        event.preventDefault();
        setBusy(true);
        try {
          await onSave(text.trim());
          setOpen(false);
        } catch {
          // the caller says what went wrong; the form stays open for another try
        } finally {
          setBusy(false);
        }
      }}
      onKeyDown={(event) => {
        if (event.key === 'Escape') setOpen(false);
      }}
    >
      <label for={id}>{field}</label>
      <input
        id={id}
        ref={input}
        value={text}
        required={required}
        maxLength={maxLength}
        list={list}
        onInput={(e) => setText(e.currentTarget.value)}
      />
      <button type="submit" class="primary" disabled={busy}>
        Save
      </button>
      <button type="button" onClick={() => setOpen(false)}>
        Cancel
      </button>
    </form>
  );
}
