// OTA bad input: offers the gateway must not make, downloads it must not serve, and
// progress reports it must not believe. Each is refused with a specific reason and
// counted, and the device and its update carry on. The device here is a bare MQTT
// client speaking CONTRACT.md §4 (and a raw WebSocket), so every field is ours to choose.
import { rm } from 'node:fs/promises';
import type { OtaMessage } from '@sentinel/firmware';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startStack, type TestGateway, type TestStack } from '../../test/support/gateway.js';
import { CONTRACT_HELLO, connectDevice } from '../../test/support/picket.js';
import type { OtaImageRef } from '../src/ota/types.js';
import { addToCatalog, appImage, dataDirForTest, ecKey, OLD_VERSION, signed } from './ota-support.js';

let stack: TestStack;
let gateway: TestGateway;
let dataDir: string;
let v150: OtaImageRef;
let v130: OtaImageRef;
let p4: OtaImageRef;
let signed151: OtaImageRef;
const clients: MqttClient[] = [];

beforeAll(async () => {
  dataDir = await dataDirForTest();
  stack = await startStack({ dataDir });
  gateway = stack.gateway;
  v150 = await addToCatalog(dataDir, appImage('1.5.0', 'esp32s3', 64 * 1024));
  v130 = await addToCatalog(dataDir, appImage('1.3.0', 'esp32s3', 64 * 1024));
  p4 = await addToCatalog(dataDir, appImage('1.5.0', 'esp32p4', 64 * 1024));
  signed151 = await addToCatalog(dataDir, await signed(appImage('1.5.1', 'esp32s3', 64 * 1024), ecKey()));
}, 30_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync()));
  await stack?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

interface BareDevice {
  id: string;
  token: string;
  client: MqttClient;
  /** the next message on picket/<id>/ota */
  nextOta(): Promise<OtaMessage>;
}

/** A device that said hello (registered once PUBACK arrives) and listens on its ota topic. */
async function bareDevice(id: string, hello: Record<string, unknown> = {}): Promise<BareDevice> {
  const token = await gateway.addDevice(id);
  const client = await connectDevice(gateway, id, token);
  clients.push(client);
  await client.subscribeAsync(`picket/${id}/ota`, { qos: 1 });
  const queue: OtaMessage[] = [];
  const waiting: ((m: OtaMessage) => void)[] = [];
  client.on('message', (topic, payload) => {
    if (topic !== `picket/${id}/ota`) return;
    const message = JSON.parse(payload.toString()) as OtaMessage;
    const waiter = waiting.shift();
    if (waiter) waiter(message);
    else queue.push(message);
  });
  await client.publishAsync(
    `picket/${id}/hello`,
    JSON.stringify({ ...CONTRACT_HELLO, fw: OLD_VERSION, chip: 'esp32s3', ...hello }),
    { qos: 1 },
  );
  return {
    id,
    token,
    client,
    nextOta: () => {
      const queued = queue.shift();
      return queued ? Promise.resolve(queued) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

async function counter(name: string, reason: string): Promise<number> {
  const text = await gateway.metricsText();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`reason="${reason}"`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

async function refusedOffer(device: string, image: OtaImageRef, reason: string, options = {}) {
  const before = await counter('sentinel_ota_refused_total', reason);
  await expect(gateway.otaFleet.offer(device, image, options)).rejects.toMatchObject({ reason });
  expect(await counter('sentinel_ota_refused_total', reason)).toBe(before + 1);
}

const bearer = (device: { id: string; token: string }) => ({
  authorization: `Bearer ${device.id}:${device.token}`,
});

async function offered(device: BareDevice, image: OtaImageRef, options = {}) {
  const offer = await gateway.otaFleet.offer(device.id, image, options);
  const message = await device.nextOta();
  expect(message).toMatchObject({
    op: 'offer',
    offer,
    version: image.version,
    size: image.size,
    sha256: image.sha256,
  });
  return message as Extract<OtaMessage, { op: 'offer' }>;
}

async function refusal(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(((await response.json()) as { error: { code: string } }).error.code).toBe(code);
}

describe('offers the gateway refuses', () => {
  it('an unsigned image to a device that declared signed_ota', async () => {
    const device = await bareDevice('bad-signed', { signed_ota: true });
    await refusedOffer(device.id, v150, 'unsigned_to_signed_ota');
    // nothing went to the device: the first message on its ota topic is the signed image it does get
    await offered(device, signed151);
  });

  it('a lower version without allowDowngrade, and the same version at all', async () => {
    const device = await bareDevice('bad-down');
    await refusedOffer(device.id, v130, 'downgrade');
    const same = await bareDevice('bad-same', { fw: '1.5.0' });
    await refusedOffer(same.id, v150, 'already_installed');
    await offered(device, v130, { allowDowngrade: true });
  });

  it('an image for another chip, or larger than the OTA slot the device declared', async () => {
    const device = await bareDevice('bad-chip');
    await refusedOffer(device.id, p4, 'wrong_chip');
    const small = await bareDevice('bad-slot', { ota_slot_size: 32 * 1024 });
    await refusedOffer(small.id, v150, 'too_large');
    // nothing was sent for either: the first offer each device sees is one that fits
    await offered(device, v150);
    const roomy = await bareDevice('ok-slot', { ota_slot_size: 64 * 1024 });
    await offered(roomy, v150);
  });

  it('an image not in the catalog, or named with the wrong facts, to an unknown device', async () => {
    const device = await bareDevice('bad-ref');
    await refusedOffer(device.id, { ...v150, sha256: 'a'.repeat(64) }, 'not_in_catalog');
    await refusedOffer(device.id, { ...v150, version: '9.9.9' }, 'image_mismatch');
    await refusedOffer('nobody-here', v150, 'offline');
  });
});

describe('downloads', () => {
  it('resumes with Range and refuses a range the image does not have', async () => {
    const device = await bareDevice('dl-range');
    const offer = await offered(device, v150);
    const whole = await fetch(offer.url, { headers: bearer(device) });
    expect(whole.status).toBe(200);
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    const bytes = new Uint8Array(await whole.arrayBuffer());
    expect(bytes.length).toBe(v150.size);

    const tail = await fetch(offer.url, { headers: { ...bearer(device), range: 'bytes=1000-' } });
    expect(tail.status).toBe(206);
    expect(tail.headers.get('content-range')).toBe(`bytes 1000-${v150.size - 1}/${v150.size}`);
    expect(new Uint8Array(await tail.arrayBuffer())).toEqual(bytes.subarray(1000));

    const before = await counter('sentinel_ota_refused_total', 'range_not_satisfiable');
    const beyond = await fetch(offer.url, { headers: { ...bearer(device), range: `bytes=${v150.size}-` } });
    expect(beyond.headers.get('content-range')).toBe(`bytes */${v150.size}`);
    await refusal(beyond, 416, 'range_not_satisfiable');
    expect(await counter('sentinel_ota_refused_total', 'range_not_satisfiable')).toBe(before + 1);
  });

  it('a URL used by another device, without the device token, or after expiry is refused', async () => {
    const owner = await bareDevice('dl-owner');
    const other = await bareDevice('dl-other');
    const offer = await offered(owner, v150);

    const before = await counter('sentinel_ota_refused_total', 'credential_for_another_device');
    await refusal(await fetch(offer.url, { headers: bearer(other) }), 403, 'credential_for_another_device');
    expect(await counter('sentinel_ota_refused_total', 'credential_for_another_device')).toBe(before + 1);
    await refusal(await fetch(offer.url), 401, 'device_unauthenticated');
    await refusal(
      await fetch(offer.url, { headers: { authorization: `Bearer ${owner.id}:wrong-token` } }),
      401,
      'device_unauthenticated',
    );
    const forged = new URL(offer.url);
    forged.searchParams.set('credential', 'x'.repeat(32));
    await refusal(await fetch(forged, { headers: bearer(owner) }), 401, 'unknown_credential');
    // the owner still downloads it
    expect((await fetch(offer.url, { headers: bearer(owner) })).status).toBe(200);

    // a credential that lives 0 ms is expired by the time the device uses it
    const expiredBefore = await counter('sentinel_ota_refused_total', 'credential_expired');
    const short = await offered(other, v150, { credentialTtlMs: 0 });
    await refusal(await fetch(short.url, { headers: bearer(other) }), 410, 'credential_expired');
    expect(await counter('sentinel_ota_refused_total', 'credential_expired')).toBe(expiredBefore + 1);
  });

  it('the URL of a superseded offer stops working', async () => {
    const device = await bareDevice('dl-superseded');
    const first = await offered(device, v150);
    await offered(device, signed151);
    await refusal(await fetch(first.url, { headers: bearer(device) }), 410, 'offer_closed');
  });
});

describe('progress reports', () => {
  it('a report for an offer never made is refused and counted, over MQTT and WebSocket', async () => {
    const device = await bareDevice('bad-progress');
    const before = await counter('sentinel_device_messages_rejected_total', 'unknown_offer');
    await device.client.publishAsync(
      `picket/${device.id}/ota/progress`,
      JSON.stringify({ offer: 'never-made-offer', state: 'downloading', percent: 10 }),
      { qos: 1 },
    );
    expect(await counter('sentinel_device_messages_rejected_total', 'unknown_offer')).toBe(before + 1);
    // dropped, not fatal: the same connection still takes an offer and reports on it
    expect(device.client.connected).toBe(true);
    const own = await offered(device, v150);
    const reported = new Promise<string>((resolve) => {
      const stop = gateway.otaFleet.onProgress((p) => {
        if (p.offer !== own.offer) return;
        stop();
        resolve(p.state);
      });
    });
    await device.client.publishAsync(
      `picket/${device.id}/ota/progress`,
      JSON.stringify({ offer: own.offer, state: 'downloading', percent: 0 }),
      { qos: 1 },
    );
    expect(await reported).toBe('downloading');

    // another device's offer is as unknown to this one
    const owner = await bareDevice('bad-progress-owner');
    const offer = await offered(owner, v150);
    const token = await gateway.addDevice('bad-progress-ws');
    const socket = new WebSocket(`ws://127.0.0.1:${gateway.httpPort}/picket`, {
      headers: { authorization: `Bearer bad-progress-ws:${token}` },
    });
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const error = new Promise<{ type: string; reason: string }>((resolve) =>
      socket.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as { type: string; reason: string };
        if (frame.type === 'error') resolve(frame);
      }),
    );
    socket.send(JSON.stringify({ type: 'hello', ...CONTRACT_HELLO }));
    socket.send(JSON.stringify({ type: 'ota_progress', offer: offer.offer, state: 'rebooting' }));
    expect(await error).toMatchObject({ reason: 'unknown_offer' });
    socket.close();
    expect(await counter('sentinel_device_messages_rejected_total', 'unknown_offer')).toBe(before + 2);
    // a malformed report is a schema error, and the device's own offer still takes reports
    const progress: string[] = [];
    const stop = gateway.otaFleet.onProgress((p) => p.device === owner.id && progress.push(p.state));
    await owner.client.publishAsync(
      `picket/${owner.id}/ota/progress`,
      JSON.stringify({ offer: offer.offer, state: 'done' }),
      {
        qos: 1,
      },
    );
    await owner.client.publishAsync(
      `picket/${owner.id}/ota/progress`,
      JSON.stringify({ offer: offer.offer, state: 'downloading', percent: 40 }),
      { qos: 1 },
    );
    stop();
    expect(progress).toEqual(['downloading']);
  });

  it('a device may not publish on its gateway-bound ota topic nor read another device’s', async () => {
    const device = await bareDevice('acl-ota');
    const before = await counter('sentinel_device_messages_rejected_total', 'unauthorized_topic');
    await device.client.publishAsync(
      `picket/${device.id}/ota`,
      JSON.stringify({ op: 'confirm', offer: 'x'.repeat(16) }),
      {
        qos: 1,
      },
    );
    // SUBACK 0x80: MQTT.js turns it into an error
    await expect(device.client.subscribeAsync('picket/dl-owner/ota', { qos: 1 })).rejects.toThrow(
      /Subscribe error/,
    );
    expect(await counter('sentinel_device_messages_rejected_total', 'unauthorized_topic')).toBe(before + 2);
  });
});
