// Shared by the people tests: a real nats-server, connections as separate nodes.
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectTestBus } from '../../test/support/bus.js';
import { startNats, type TestNats } from '../../test/support/nats.js';
import { openPeopleStores, People, type PeopleOptions, type PeopleStores } from '../src/people/index.js';

export interface PeopleTestBed {
  nats: TestNats;
  /** a new connection, as another gateway node (or the CLI) would have */
  node(): Promise<{ nc: NatsConnection; stores: PeopleStores }>;
  started(options?: PeopleOptions): Promise<People>;
  stop(): Promise<void>;
}

export async function peopleTestBed(): Promise<PeopleTestBed> {
  const nats = await startNats();
  const connections: NatsConnection[] = [];
  const started: People[] = [];
  const connection = async () => {
    const nc = await connectTestBus(nats.url);
    connections.push(nc);
    return nc;
  };
  return {
    nats,
    async node() {
      const nc = await connection();
      return { nc, stores: await openPeopleStores(jetstream(nc), await jetstreamManager(nc)) };
    },
    async started(options) {
      const nc = await connection();
      const people = await People.start(jetstream(nc), await jetstreamManager(nc), options);
      started.push(people);
      return people;
    },
    async stop() {
      for (const people of started) people.stop();
      for (const nc of connections) await nc.close();
      await nats.stop();
    },
  };
}

/** A clock the test moves by hand. */
export function manualClock(start = Date.UTC(2025, 0, 15, 12)) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}
