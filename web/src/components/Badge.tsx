import type { ComponentChildren } from 'preact';

export type Tone = 'ok' | 'warn' | 'bad' | 'muted' | 'info';

/** A status in words, with colour as a second cue (never colour alone). */
export function Badge({
  tone,
  children,
  title,
}: {
  tone: Tone;
  children: ComponentChildren;
  title?: string;
}) {
  return (
    <span class={`badge ${tone}`} title={title}>
      <span class="dot" aria-hidden="true" />
      {children}
    </span>
  );
}

export function Availability({ online }: { online: boolean }) {
  return online ? <Badge tone="ok">Online</Badge> : <Badge tone="bad">Offline</Badge>;
}
