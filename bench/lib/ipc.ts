// Request/reply over the Node IPC channel between the orchestrator and a
// worker process. A worker handles one request at a time; anything it sends
// that is not a reply (progress, credit) goes to `onEvent`.
import { ChildFailedError, type ManagedChild } from './processes.js';
import type { WorkerError } from './protocol.js';

interface Pending {
  resolve: (reply: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** The orchestrator's handle on one worker. */
export class WorkerClient<Request extends { type: string }, Reply extends { type: string }> {
  private pending: Pending | undefined;
  private readonly eventListeners: ((event: { type: string }) => void)[] = [];

  constructor(readonly child: ManagedChild) {
    child.process.on('message', (message: { type: string; replyTo?: string }) => {
      if (message.replyTo === undefined) {
        for (const listener of this.eventListeners) listener(message);
        return;
      }
      const pending = this.pending;
      this.pending = undefined;
      if (!pending) return;
      clearTimeout(pending.timer);
      if (message.type === 'error') {
        pending.reject(new ChildFailedError(child.label, (message as unknown as WorkerError).message));
      } else {
        pending.resolve(message);
      }
    });
    void child.exited.then((how) => {
      const pending = this.pending;
      this.pending = undefined;
      if (pending) {
        clearTimeout(pending.timer);
        pending.reject(new ChildFailedError(child.label, child.failureReason() ?? `exited (${how})`));
      }
    });
  }

  onEvent(listener: (event: { type: string }) => void): void {
    this.eventListeners.push(listener);
  }

  /** Sends without waiting for anything (used for credit). Dropped if the worker is gone. */
  post(message: { type: string }): void {
    if (this.child.process.connected) this.child.process.send(message);
  }

  request<T extends Reply['type']>(
    message: Request,
    expect: T,
    timeoutMs: number,
  ): Promise<Extract<Reply, { type: T }>> {
    if (this.pending) return Promise.reject(new Error(`${this.child.label}: a request is already pending`));
    if (!this.child.process.connected) {
      return Promise.reject(
        new ChildFailedError(this.child.label, this.child.failureReason() ?? 'not running'),
      );
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        reject(
          new ChildFailedError(this.child.label, `no reply to "${message.type}" within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.pending = {
        resolve: (reply) => {
          const typed = reply as Reply;
          if (typed.type === expect) resolve(typed as Extract<Reply, { type: T }>);
          else reject(new Error(`${this.child.label}: expected "${expect}", got "${typed.type}"`));
        },
        reject,
        timer,
      };
      this.child.process.send(message);
    });
  }
}

/**
 * The worker side: handles requests one at a time, replies with the handler's
 * result (or an error message), and exits when the orchestrator goes away.
 */
export function serveRequests<Request extends { type: string }, Reply extends { type: string }>(
  handle: (request: Request) => Promise<Reply>,
  onOther?: (message: { type: string }) => void,
): void {
  if (!process.send)
    throw new Error('this worker must be started with an IPC channel (bench/run.ts does that)');
  const send = (message: object) => {
    if (process.connected) process.send!(message);
  };
  let queue = Promise.resolve();
  process.on('message', (message: Request) => {
    if (onOther && !isRequest(message)) {
      onOther(message);
      return;
    }
    queue = queue.then(async () => {
      try {
        const reply = await handle(message);
        send({ ...reply, replyTo: message.type });
      } catch (error) {
        send({
          type: 'error',
          message: error instanceof Error ? error.message : String(error),
          replyTo: message.type,
        });
      }
    });
  });
  // the orchestrator is gone (finished, crashed or killed): so are we
  process.on('disconnect', () => process.exit(0));
}

/** Messages the orchestrator posts without waiting for a reply (see `WorkerClient.post`). */
const EVENTS = new Set(['credit']);
function isRequest(message: { type: string }): boolean {
  return !EVENTS.has(message.type);
}

/** Sends an unsolicited event to the orchestrator (no reply expected). */
export function emitEvent<T extends { type: string }>(event: T): void {
  if (process.connected) process.send!(event);
}
