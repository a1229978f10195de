// An in-memory PicketTransport: the test plays the gateway directly (accept or
// refuse each attempt, ack, command, drop), with no sockets and no waiting.
import type { Command, CommandResult, Hello, State } from '@sentinel/firmware';
import {
  ConnectFailure,
  type DeviceProblem,
  type LinkHandlers,
  type PicketLink,
  type PicketTransport,
} from '../../src/index.js';
import { Observed } from './wait.js';

export type Sent =
  | { kind: 'hello'; hello: Hello; link: number }
  | { kind: 'state'; state: State; link: number }
  | { kind: 'result'; result: CommandResult; link: number };

export class MemoryTransport implements PicketTransport {
  readonly target = 'memory://gateway';
  readonly sent = new Observed<Sent>();
  /** failures for the next attempts, in order; empty = accept */
  readonly refusals: DeviceProblem[] = [];
  attempts = 0;
  links = 0;
  #handlers: LinkHandlers | undefined;

  constructor(readonly confirmsStates = true) {}

  get online(): boolean {
    return this.#handlers !== undefined;
  }

  async connect(handlers: LinkHandlers): Promise<PicketLink> {
    this.attempts++;
    const refusal = this.refusals.shift();
    if (refusal) throw new ConnectFailure(refusal);
    const link = ++this.links;
    this.#handlers = handlers;
    return {
      sendHello: (hello) => this.sent.push({ kind: 'hello', hello, link }),
      sendState: (state) => this.sent.push({ kind: 'state', state, link }),
      sendResult: (result) => this.sent.push({ kind: 'result', result, link }),
      close: async () => {
        this.#handlers = undefined;
      },
    };
  }

  ack(seq: number): void {
    this.#handlers?.onAck(seq);
  }

  command(command: Command): void {
    this.#handlers?.onCommand(command);
  }

  drop(reason = 'connection reset'): void {
    const handlers = this.#handlers;
    this.#handlers = undefined;
    handlers?.onClose(reason);
  }

  states(): State[] {
    return this.sent.items.flatMap((s) => (s.kind === 'state' ? [s.state] : []));
  }
}
