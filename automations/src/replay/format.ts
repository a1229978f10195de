// How a replay prints what the automation would have done: one line per firing and per
// action, each with the simulated time it would have happened at.
import type { ActionTrace, Trace } from '../runtime/trace.js';

export interface ReplayLine {
  ts: number;
  text: string;
}

const when = (ts: number) => new Date(ts).toISOString();

function action(a: ActionTrace, name: (id: string) => string): ReplayLine {
  switch (a.kind) {
    case 'command':
      return { ts: a.ts, text: `command ${name(a.entity_id)} = ${JSON.stringify(a.value)}` };
    case 'notify':
      return { ts: a.ts, text: `notify ${a.channel}: ${a.title}` };
    case 'log':
      return { ts: a.ts, text: `log ${a.message}${a.data ? ` ${JSON.stringify(a.data)}` : ''}` };
  }
}

/** The lines of one trace: the firing, then each action (or why it did not run). */
export function traceLines(trace: Trace, name: (id: string) => string = (id) => id): ReplayLine[] {
  const fired = trace.trigger
    ? `fired ${trace.trigger.kind}: ${trace.trigger.description}`
    : `${trace.result}`;
  const at = trace.trigger?.ts ?? trace.started;
  const lines: ReplayLine[] = [];
  switch (trace.result) {
    case 'conditions_failed': {
      const failed = trace.conditions.find((c) => !c.result);
      lines.push({ ts: at, text: `${fired} — not run: condition ${failed?.name ?? '?'} was false` });
      break;
    }
    case 'skipped':
      lines.push({ ts: at, text: `${fired} — not run: ${trace.error}` });
      break;
    case 'load_error':
      lines.push({ ts: at, text: `failed to load: ${trace.error}` });
      break;
    default:
      lines.push({ ts: at, text: fired });
  }
  for (const a of trace.actions) lines.push(action(a, name));
  const end = trace.finished ?? at;
  if (trace.result === 'error') lines.push({ ts: end, text: `run failed: ${trace.error}` });
  if (trace.result === 'aborted') lines.push({ ts: end, text: `run still going at the end of the replay` });
  return lines;
}

export const formatLine = (automationId: string, line: ReplayLine) =>
  `${when(line.ts)}  ${automationId}  ${line.text}`;
