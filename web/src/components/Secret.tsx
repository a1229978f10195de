import { useId, useRef, useState } from 'preact/hooks';

/** A token or link shown once, with a copy button. */
export function Secret({ label, value, once = true }: { label: string; value: string; once?: boolean }) {
  const id = useId();
  const input = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState('');

  async function copy() {
    try {
      if (!navigator.clipboard) throw new Error('no clipboard');
      await navigator.clipboard.writeText(value);
      setCopied('Copied.');
    } catch {
      // plain HTTP on a LAN address has no Clipboard API: select the text so Ctrl+C copies it
      input.current?.select();
      setCopied(document.execCommand('copy') ? 'Copied.' : 'Selected: press Ctrl+C (or ⌘C) to copy.');
    }
  }

  return (
    <div class="secret">
      <label for={id}>{label}</label>
      <div class="secret-row">
        <input
          id={id}
          ref={input}
          readOnly
          value={value}
          spellcheck={false}
          onFocus={(e) => e.currentTarget.select()}
        />
        <button type="button" onClick={copy}>
          Copy
        </button>
      </div>
      {once && <p class="hint">Shown only this once: copy it now.</p>}
      <p class="hint" role="status">
        {copied}
      </p>
    </div>
  );
}
