// Renders FlashStates on stderr: a redrawn progress bar on a terminal, plain lines
// otherwise (one per state, and one per 10 % of a part) so logs stay readable.

import { describeState, type FlashState, percent } from '@sentinel/firmware';

export interface ProgressRenderer {
  (state: FlashState): void;
  /** ends a bar in progress with a newline */
  finish(): void;
}

const BAR_WIDTH = 30;

export function progressRenderer(stream: NodeJS.WriteStream = process.stderr): ProgressRenderer {
  const tty = Boolean(stream.isTTY);
  let barOpen = false;
  let lastLine = '';
  let lastStep = -1;

  const endBar = () => {
    if (barOpen) stream.write('\n');
    barOpen = false;
  };

  const render = ((state: FlashState) => {
    const progress =
      state.state === 'writing'
        ? { done: state.written, total: state.total, key: `w${state.part}` }
        : state.state === 'reading'
          ? { done: state.read, total: state.total, key: 'r' }
          : undefined;
    if (progress) {
      const pct = percent(progress.done, progress.total);
      if (tty) {
        const filled = Math.round((pct / 100) * BAR_WIDTH);
        const bar = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`;
        stream.write(`\r${bar} ${String(pct).padStart(3)}% ${describeState(state)}\x1b[K`);
        barOpen = true;
        return;
      }
      const step = Math.floor(pct / 10);
      const key = `${progress.key}:${step}`;
      if (key === lastLine) return;
      if (step === lastStep && lastLine.startsWith(progress.key)) return;
      lastStep = step;
      lastLine = key;
      stream.write(`${describeState(state)}\n`);
      return;
    }
    endBar();
    // the failure itself is the command's one error line
    if (state.state === 'error') return;
    lastStep = -1;
    lastLine = '';
    stream.write(`${describeState(state)}\n`);
  }) as ProgressRenderer;
  render.finish = endBar;
  return render;
}
