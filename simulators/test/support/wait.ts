// Waiting for something a test observes (a publish, a frame) without sleeping:
// a log of everything seen, and promises that resolve on the first match, past or future.
import { EventEmitter } from 'node:events';
import { waitForEvent } from '../../src/index.js';

export class Observed<T> {
  readonly items: T[] = [];
  readonly #events = new EventEmitter<{ item: [T] }>();

  push(item: T): void {
    this.items.push(item);
    this.#events.emit('item', item);
  }

  /** the first item (already seen or still to come) that matches */
  first(match: (item: T) => boolean, timeoutMs = 5000): Promise<T> {
    return this.firstSince(0, match, timeoutMs);
  }

  /** a position in the log, for firstSince */
  mark(): number {
    return this.items.length;
  }

  /** the first matching item logged at or after `mark` (already seen or still to come) */
  async firstSince(mark: number, match: (item: T) => boolean, timeoutMs = 5000): Promise<T> {
    const seen = this.items.slice(mark).find(match);
    if (seen !== undefined) return seen;
    const [item] = await waitForEvent(this.#events, 'item', { filter: match, timeoutMs });
    return item;
  }

  /** the first matching item that arrives from now on */
  async next(match: (item: T) => boolean = () => true, timeoutMs = 5000): Promise<T> {
    const [item] = await waitForEvent(this.#events, 'item', { filter: match, timeoutMs });
    return item;
  }

  filter(match: (item: T) => boolean): T[] {
    return this.items.filter(match);
  }
}
