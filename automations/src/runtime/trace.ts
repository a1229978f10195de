// A trace per run (and per firing that did not run, and per load failure): kept in
// memory for queries and published on sentinel.automations.trace.<id>.
import type { CommandReply, StateValue, TriggerEvent } from '../sdk/define.js';

export type TraceResult =
  | 'ok'
  | 'error'
  | 'aborted'
  | 'conditions_failed'
  | 'skipped'
  | 'load_error'
  /** not a run: something wrong with what the automation watches (a bad reading, a removed entity, a clock step); it keeps running */
  | 'warning';

export interface ConditionTrace {
  index: number;
  name: string;
  result: boolean;
  error?: string;
}

export type ActionTrace =
  | { kind: 'command'; entity_id: string; value: StateValue; ts: number; reply: CommandReply }
  | { kind: 'notify'; channel: string; title: string; ts: number }
  | { kind: 'log'; message: string; data?: Record<string, unknown>; ts: number };

export interface Trace {
  automation_id: string;
  /** `<automation id>-<sequence>`, unique within a runtime's life */
  run_id: string;
  started: number;
  finished?: number;
  trigger?: TriggerEvent;
  conditions: ConditionTrace[];
  actions: ActionTrace[];
  result: TraceResult;
  /** why it failed or was skipped, specifically */
  error?: string;
  /** order among this automation's stored traces (set when stored in KV) */
  seq?: number;
  /** actions were left out: more than the trace keeps */
  truncated?: boolean;
}

/** actions recorded per run; later ones are counted in `truncated` */
export const MAX_TRACE_ACTIONS = 200;

export class TraceLog {
  readonly #byAutomation = new Map<string, Trace[]>();

  constructor(readonly limit: number) {}

  record(trace: Trace): void {
    const list = this.#byAutomation.get(trace.automation_id) ?? [];
    list.push(trace);
    if (list.length > this.limit) list.splice(0, list.length - this.limit);
    this.#byAutomation.set(trace.automation_id, list);
  }

  of(automationId: string): readonly Trace[] {
    return this.#byAutomation.get(automationId) ?? [];
  }
}
