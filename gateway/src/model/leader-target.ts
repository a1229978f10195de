// The router's way to a subsystem that runs on one node of the cluster at a time (the
// Home Assistant import, the Matter adapter): the target stays registered with the router
// on every node and reaches the subsystem only where it currently runs.
import type { Running } from '../bus/locks.js';
import { type CommandReply, type CommandRequest, type CommandTarget, failure } from './commands.js';
import type { Binding } from './records.js';

export interface LeadingSubsystem extends Pick<CommandTarget, 'isOnline' | 'send'> {
  start(): void;
  stop(): Promise<void>;
}

export class LeaderCommandTarget implements CommandTarget {
  #current: LeadingSubsystem | undefined;

  /** `absent` completes "… does not run on this node" in the reply to a command elsewhere. */
  constructor(
    readonly protocol: string,
    private readonly absent: string,
  ) {}

  isOnline = (deviceId: string): boolean => this.#current?.isOnline(deviceId) ?? false;

  send(binding: Binding, request: CommandRequest, timeoutMs: number): Promise<CommandReply> {
    return (
      this.#current?.send(binding, request, timeoutMs) ??
      Promise.resolve(failure('unavailable', `${this.absent} does not run on this node`))
    );
  }

  /** Starts `subsystem` as this node's; commands reach it until it is stopped. */
  run(subsystem: LeadingSubsystem): Running {
    this.#current = subsystem;
    subsystem.start();
    return {
      stop: async () => {
        if (this.#current === subsystem) this.#current = undefined;
        await subsystem.stop();
      },
    };
  }
}
