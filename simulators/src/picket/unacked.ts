// State messages the gateway has not yet confirmed as stored. They are resent,
// with their original seq, after a reconnect. Bounded like a device's RAM: when it
// is full the oldest reading goes, because a fresh reading is worth more.
import type { State } from '@sentinel/firmware';

export class UnackedStates {
  readonly #bySeq = new Map<number, State>();
  #dropped = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
  }

  /** Keeps `state` until acked; returns the state it had to drop to make room, if any. */
  add(state: State): State | undefined {
    let dropped: State | undefined;
    if (this.#bySeq.size >= this.capacity) {
      // Maps iterate in insertion order and seqs are added in increasing order
      const oldest = this.#bySeq.keys().next().value!;
      dropped = this.#bySeq.get(oldest);
      this.#bySeq.delete(oldest);
      this.#dropped++;
    }
    this.#bySeq.set(state.seq, state);
    return dropped;
  }

  /** Forgets `seq`; true when it was still waiting (a repeated ack returns false). */
  ack(seq: number): boolean {
    return this.#bySeq.delete(seq);
  }

  /** Waiting states in seq order: what to resend after a reconnect. */
  pending(): State[] {
    return [...this.#bySeq.values()];
  }

  get size(): number {
    return this.#bySeq.size;
  }

  /** how many readings were lost because the buffer was full */
  get dropped(): number {
    return this.#dropped;
  }
}
