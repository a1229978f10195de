// The pipelined JetStream publisher against a real nats-server: it resolves only
// once the stream stored the message, and every way it can fail is a rejection.
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTestBus } from '../../test/support/bus.js';
import { startNats, type TestNats } from '../../test/support/nats.js';
import { DurablePublishError, DurablePublisher } from '../src/bus/durable-publisher.js';

let nats: TestNats;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startNats();
  nc = await connectTestBus(nats.url);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    name: 'T',
    subjects: ['t.>'],
    max_msg_size: 1024,
    duplicate_window: 60_000_000_000,
  });
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

const count = async () => (await (await jetstreamManager(nc)).streams.info('T')).state.messages;

describe('DurablePublisher', () => {
  it('resolves once stored, many in flight, and stores a repeated message id once', async () => {
    const publisher = new DurablePublisher(nc, 5000);
    const before = await count();
    await Promise.all(
      Array.from({ length: 500 }, (_, i) => publisher.publish('t.a', `{"n":${i}}`, `id-${i}`)),
    );
    expect(await count()).toBe(before + 500);
    await publisher.publish('t.a', '{"n":0}', 'id-0'); // a resend after a reconnect
    expect(await count()).toBe(before + 500);
    publisher.close();
  });

  it('rejects when no stream captures the subject', async () => {
    const publisher = new DurablePublisher(nc, 5000);
    await expect(publisher.publish('nowhere.x', '{}', 'n-1')).rejects.toThrow(/no stream captures/);
    publisher.close();
  });

  it('rejects what the stream refuses, with its reason', async () => {
    const publisher = new DurablePublisher(nc, 5000);
    await expect(publisher.publish('t.big', 'x'.repeat(2048), 'big-1')).rejects.toThrow(
      /JetStream refused the message: .*size/,
    );
    publisher.close();
  });

  it('rejects when no acknowledgement comes in time', async () => {
    const silent = nc.subscribe('quiet.x'); // someone listens, nobody acknowledges
    const publisher = new DurablePublisher(nc, 300);
    const started = Date.now();
    await expect(publisher.publish('quiet.x', '{}', 'q-1')).rejects.toBeInstanceOf(DurablePublishError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    silent.unsubscribe();
    publisher.close();
  });

  it('rejects everything pending when closed', async () => {
    const silent = nc.subscribe('quiet.y');
    const publisher = new DurablePublisher(nc, 60_000);
    const pending = publisher.publish('quiet.y', '{}', 'c-1');
    publisher.close();
    await expect(pending).rejects.toThrow(/closed/);
    silent.unsubscribe();
  });
});
