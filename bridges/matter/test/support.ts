// A plain `ws` client of the matter server API for tests: requests by message id, events
// awaited by predicate (buffered, so an event that arrives first is not missed).
import WebSocket from 'ws';
import { parseMatterJson, stringifyMatterJson } from '../src/index.js';

export interface Answer {
  message_id: string;
  result?: unknown;
  error_code?: number;
  details?: string;
}
export interface Event {
  event: string;
  data: unknown;
}

export class ApiClient {
  readonly #socket: WebSocket;
  readonly #answers = new Map<string, (answer: Answer) => void>();
  readonly #events: Event[] = [];
  readonly #waiters: Array<{ match: (e: Event) => boolean; resolve: (e: Event) => void }> = [];
  #next = 0;
  readonly serverInfo: Promise<Record<string, unknown>>;

  constructor(url: string) {
    this.#socket = new WebSocket(url);
    let info: (value: Record<string, unknown>) => void = () => {};
    this.serverInfo = new Promise((resolve) => {
      info = resolve;
    });
    this.#socket.on('message', (data) => {
      const message = parseMatterJson(data.toString()) as Record<string, unknown>;
      if ('fabric_id' in message) info(message);
      else if (typeof message.event === 'string') this.#deliver(message as unknown as Event);
      else this.#answers.get(String(message.message_id))?.(message as unknown as Answer);
    });
  }

  /** sends `text` as is (malformed-message tests) and awaits the answer carrying `messageId` */
  sendRaw(text: string, messageId: string): Promise<Answer> {
    const answer = new Promise<Answer>((resolve) => this.#answers.set(messageId, resolve));
    this.#socket.send(text);
    return answer;
  }

  request(command: string, args?: Record<string, unknown>): Promise<Answer> {
    const id = `m${++this.#next}`;
    return this.sendRaw(stringifyMatterJson({ message_id: id, command, args }), id);
  }

  async result<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    const answer = await this.request(command, args);
    if (answer.error_code !== undefined)
      throw new Error(`${command}: ${answer.error_code} ${answer.details}`);
    return answer.result as T;
  }

  event(match: (e: Event) => boolean): Promise<Event> {
    const index = this.#events.findIndex(match);
    if (index >= 0) return Promise.resolve(this.#events.splice(index, 1)[0] as Event);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  #deliver(event: Event) {
    const index = this.#waiters.findIndex((w) => w.match(event));
    if (index >= 0) this.#waiters.splice(index, 1)[0]?.resolve(event);
    else this.#events.push(event);
  }

  close(): void {
    this.#socket.close();
  }
}
