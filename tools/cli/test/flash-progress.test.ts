// How `sentinel flash` shows progress: a redrawn bar on a terminal, plain lines otherwise,
// and never the error state itself (that is the command's one error line).

import type { FlashState } from '@sentinel/firmware';
import { describe, expect, it } from 'vitest';
import { progressRenderer } from '../src/serial/progress.js';

function fakeStream(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY, write: (s: string) => chunks.push(s) } as unknown as NodeJS.WriteStream };
}

const writing = (written: number): FlashState => ({
  state: 'writing',
  part: 0,
  parts: 2,
  name: 'app.bin',
  offset: 0x10000,
  written,
  total: 1000,
  compressed: true,
});

const run: FlashState[] = [
  { state: 'connecting' },
  ...Array.from({ length: 101 }, (_, i) => writing(i * 10)),
  { state: 'verifying', part: 0, parts: 2, name: 'app.bin', offset: 0x10000 },
  { state: 'error', code: 'port_closed', message: 'the serial port was closed', hint: 'keep it open' },
];

describe('flash progress', () => {
  it('redraws one bar on a terminal', () => {
    const { chunks, stream } = fakeStream(true);
    const render = progressRenderer(stream);
    for (const state of run) render(state);
    render.finish();
    const text = chunks.join('');
    expect(text).toContain(
      '\r[###############...............]  50% writing app.bin at 0x10000 (1/2): 50% (compressed)',
    );
    expect(text).toContain('\r[##############################] 100% writing app.bin');
    // the bar ends with a newline before the next state's line
    expect(text.endsWith('(compressed)\x1b[K\nverifying app.bin at 0x10000 by MD5\n')).toBe(true);
    expect(text).not.toContain('the serial port was closed');
  });

  it('prints a line per 10 % elsewhere', () => {
    const { chunks, stream } = fakeStream(false);
    const render = progressRenderer(stream);
    for (const state of run) render(state);
    const lines = chunks.join('').trim().split('\n');
    expect(lines[0]).toBe('connecting to the bootloader…');
    expect(lines.filter((l) => l.startsWith('writing'))).toHaveLength(11);
    expect(lines.at(-1)).toBe('verifying app.bin at 0x10000 by MD5');
    expect(chunks.join('')).not.toContain('\r');
  });
});
