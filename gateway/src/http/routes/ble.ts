// BLE: the proxies' health as their status heartbeats tell it, the sensors they hear
// that are not devices yet and their adoption (ble/adoption.ts), and bindkeys of
// encrypted sensors (KV sentinel_ble_keys, followed by the BLE adapter on the leader).
import { bleSubject, decodeAdvBatch, ProxyStatusSchema } from '@sentinel/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { BleSettingsStore, HeardTable, loudest } from '../../ble/adoption.js';
import { devicesDecoder } from '../../ble/decoder.js';
import {
  BleKeyStore,
  bleKeyDeviceId,
  followBleKeys,
  InvalidBleKeyError,
  normalizeBindkey,
  openBleKeys,
} from '../../ble/keys.js';
import { ProxyDirectory } from '../../ble/proxies.js';
import { errorResponses, HttpError } from '../errors.js';
import type { RouteDeps } from '../options.js';
import { NameSchema } from '../schemas.js';

/** Proxies silent this long are no longer listed. */
const FORGET_PROXY_MS = 24 * 3600_000;

const ProxyViewSchema = z.object({
  proxy: z.string(),
  alive: z.boolean(),
  age_ms: z.number().int().describe('since its last status or advertisement batch'),
  status: ProxyStatusSchema,
});

/** 32 hex digits (16 bytes: BTHome, MiBeacon v4/v5), or 24 for old MiBeacon; spaces around are ignored. */
const BindkeySchema = z
  .string()
  .trim()
  .regex(
    /^([0-9a-fA-F]{32}|[0-9a-fA-F]{24})$/,
    'a bindkey is 32 hex digits (16 bytes), or 24 for old MiBeacon sensors',
  );

const HeardSchema = z.object({
  mac: z.string(),
  device_id: z.string(),
  name: z.string().optional(),
  format: z.string().optional().describe('what the decoders made of it (absent while encrypted)'),
  model: z.string().optional(),
  manufacturer: z.string().optional(),
  encrypted: z.boolean(),
  has_key: z.boolean().describe('a bindkey is stored for it'),
  key_works: z.boolean().optional().describe('encrypted with a stored key: whether the key opens its data'),
  measurements: z.array(z.string()),
  rssi: z.number().describe('the strongest signal a proxy heard it with lately (dBm)'),
  proxy: z.string().describe('the proxy that hears it best'),
  proxies: z.array(z.object({ proxy: z.string(), rssi: z.number(), age_ms: z.number().int() })),
  age_ms: z.number().int(),
});

const SettingsSchema = z.object({
  auto_adopt: z
    .boolean()
    .describe('every sensor the decoders understand becomes a device at once (the default)'),
});

export const bleRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, o) => {
  // every node answers, not only the BLE leader: each follows the heartbeats itself
  const proxies = new ProxyDirectory();
  const sub = o.bus.nc.subscribe(bleSubject.statusAll, {
    callback: (error, msg) => {
      if (error) return;
      try {
        proxies.update(msg.subject.split('.')[3] ?? '', msg.json(), Date.now());
      } catch {
        // not JSON: the BLE adapter counts and logs bad statuses, once is enough
      }
    },
  });
  // and each follows the advertisements, for the sensors not adopted yet
  const decoder = devicesDecoder();
  const heard = new HeardTable((adv) => decoder.decode(adv, undefined));
  const advs = o.bus.nc.subscribe(bleSubject.advAll, {
    callback: (error, msg) => {
      if (error) return;
      const proxy = msg.subject.split('.')[3] ?? '';
      const decoded = decodeAdvBatch(msg.data);
      // bad batches are the adapter's to count and log
      if (!decoded.ok || decoded.batch.proxy !== proxy) return;
      const now = Date.now();
      for (const entry of decoded.entries) heard.observe(proxy, entry, now);
    },
  });
  let keys: BleKeyStore | undefined;
  let settings: BleSettingsStore | undefined;
  let followed: ReturnType<typeof followKeys> | undefined;
  const followKeys = async () => followBleKeys(await openBleKeys(o.bus.js), noop, noop);
  app.addHook('onClose', async () => {
    sub.unsubscribe();
    advs.unsubscribe();
    (await followed?.catch(() => undefined))?.stop();
  });
  /** the stored bindkeys, followed from the first request that needs them */
  const storedKeys = () => {
    followed ??= followKeys();
    followed.catch(() => {
      followed = undefined;
    });
    return followed;
  };
  const settingsStore = async () => {
    settings ??= await BleSettingsStore.open(o.bus.js);
    return settings;
  };

  app.get(
    '/api/ble/proxies',
    {
      schema: {
        summary: "each BLE proxy's last status and its age",
        response: { 200: z.array(ProxyViewSchema) },
      },
      config: { role: 'viewer' },
    },
    async () => {
      const now = Date.now();
      proxies.sweep(now, FORGET_PROXY_MS);
      return proxies.ids().flatMap((id) => {
        const known = proxies.get(id);
        return known
          ? [
              {
                proxy: id,
                alive: proxies.alive(id, now),
                age_ms: now - known.receivedAt,
                status: known.status,
              },
            ]
          : [];
      });
    },
  );

  app.get(
    '/api/ble/heard',
    {
      schema: {
        summary: 'sensors the proxies hear that are not devices yet, nearest first',
        response: { 200: z.array(HeardSchema) },
      },
      config: { role: 'viewer' },
    },
    async () => {
      const now = Date.now();
      const known = await storedKeys();
      return heard
        .list(now)
        .filter((address) => !o.registry.device(address.device_id))
        .map((address) => {
          const key = known.get(address.device_id);
          let view: z.infer<typeof HeardSchema> = {
            mac: address.mac,
            device_id: address.device_id,
            encrypted: address.encrypted,
            has_key: key !== undefined,
            measurements: address.measurements,
            rssi: loudest(address),
            proxy: '',
            proxies: [...address.proxies]
              .map(([proxy, h]) => ({ proxy, rssi: h.rssi, age_ms: now - h.at }))
              .sort((a, b) => b.rssi - a.rssi),
            age_ms: now - address.lastSeen,
          };
          view.proxy = view.proxies[0]?.proxy ?? '';
          if (address.name) view.name = address.name;
          if (address.format) view.format = address.format;
          if (address.model) view.model = address.model;
          if (address.manufacturer) view.manufacturer = address.manufacturer;
          if (address.encrypted && key) {
            const opened = decoder.decode(address.input, key);
            view.key_works = opened.ok;
            if (opened.ok) view = { ...view, ...described(opened) };
          }
          return view;
        });
    },
  );

  const MacParams = z.object({ mac: z.string().min(1).max(32) });

  app.post(
    '/api/ble/heard/:mac/adopt',
    {
      schema: {
        summary: 'adopt a sensor the proxies hear: it becomes a device (with its bindkey, when encrypted)',
        params: MacParams,
        body: z.strictObject({ bindkey: BindkeySchema.optional(), name: NameSchema.optional() }),
        response: {
          201: z.object({ device_id: z.string() }),
          ...errorResponses('bad_request', 'not_found', 'conflict'),
        },
      },
      config: { role: 'admin' },
    },
    async (request, reply) => {
      const { mac } = request.params;
      let deviceId: string;
      try {
        deviceId = bleKeyDeviceId(mac);
      } catch (error) {
        return refusal(error);
      }
      if (o.registry.device(deviceId)) throw new HttpError('conflict', `${deviceId} is already a device`);
      const address = heard.get(deviceId, Date.now());
      if (!address)
        throw new HttpError('not_found', `no proxy heard ${mac} lately (is the sensor in range and on?)`);
      const given = request.body.bindkey === undefined ? undefined : normalizeBindkey(request.body.bindkey);
      let decoded: ReturnType<typeof decoder.decode> | undefined;
      if (address.encrypted) {
        const key = given ? Buffer.from(given, 'hex') : (await storedKeys()).get(deviceId);
        if (!key)
          throw new HttpError(
            'bad_request',
            `${address.mac} encrypts its advertisements: give its bindkey (32 hex digits)`,
          );
        decoded = decoder.decode(address.input, key);
        if (!decoded.ok)
          throw new HttpError(
            'bad_request',
            `that bindkey does not open what ${address.mac} sends (${decoded.error}); check it and try again`,
          );
      }
      if (given) await (await keyStore()).set(deviceId.slice('ble-'.length), given);
      const model = decoded?.ok ? described(decoded) : address;
      await o.registry.upsertDevice(
        {
          id: deviceId,
          protocol: 'ble',
          name: request.body.name ?? address.name ?? `BLE ${address.mac}`,
          mac: address.mac,
          ...(model.model ? { model: model.model } : {}),
          ...(model.manufacturer ? { manufacturer: model.manufacturer } : {}),
        },
        { online: false, last_seen: address.lastSeen },
      );
      // the key itself never goes into the audit log
      await o.people.audit({
        ts: Date.now(),
        ...o.audit(request),
        action: 'ble.adopt',
        target: deviceId,
        outcome: 'ok',
        detail: { encrypted: address.encrypted, key_given: given !== undefined },
      });
      return reply.code(201).send({ device_id: deviceId });
    },
  );

  app.get(
    '/api/ble/settings',
    {
      schema: { summary: 'how BLE sensors are adopted', response: { 200: SettingsSchema } },
      config: { role: 'viewer' },
    },
    async () => ({ auto_adopt: await (await settingsStore()).autoAdopt() }),
  );

  app.put(
    '/api/ble/settings',
    {
      schema: {
        summary: 'adopt every understood sensor at once, or only those a person adopts',
        body: z.strictObject({ auto_adopt: z.boolean() }),
        response: { 200: SettingsSchema, ...errorResponses('bad_request') },
      },
      config: { role: 'admin' },
    },
    async (request) => {
      const store = await settingsStore();
      const before = await store.autoAdopt();
      await store.setAutoAdopt(request.body.auto_adopt);
      await o.people.audit({
        ts: Date.now(),
        ...o.audit(request),
        action: 'ble.settings',
        target: 'auto_adopt',
        outcome: 'ok',
        detail: { from: before, to: request.body.auto_adopt },
      });
      return { auto_adopt: request.body.auto_adopt };
    },
  );

  const keyStore = async () => {
    keys ??= await BleKeyStore.open(o.bus.js);
    return keys;
  };
  const refusal = (error: unknown): never => {
    if (error instanceof InvalidBleKeyError) throw new HttpError('bad_request', error.message);
    throw error;
  };

  app.put(
    '/api/ble/keys/:mac',
    {
      schema: {
        summary: 'set the bindkey of an encrypted BLE sensor',
        params: MacParams,
        body: z.strictObject({ bindkey: BindkeySchema }),
        response: { 204: z.null(), ...errorResponses('bad_request') },
      },
      config: { role: 'admin' },
    },
    async (request, reply) => {
      const set = await (await keyStore()).set(request.params.mac, request.body.bindkey).catch(refusal);
      // the key itself never goes into the audit log
      await o.people.audit({
        ts: Date.now(),
        ...o.audit(request),
        action: 'ble.key.set',
        target: set.device_id,
        outcome: 'ok',
      });
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/api/ble/keys/:mac',
    {
      schema: {
        summary: 'forget the bindkey of a BLE sensor',
        params: MacParams,
        response: { 204: z.null(), ...errorResponses('bad_request', 'not_found') },
      },
      config: { role: 'admin' },
    },
    async (request, reply) => {
      const removed = await (await keyStore()).remove(request.params.mac).catch(refusal);
      if (!removed) throw new HttpError('not_found', `no bindkey for ${request.params.mac}`);
      await o.people.audit({
        ts: Date.now(),
        ...o.audit(request),
        action: 'ble.key.remove',
        target: request.params.mac,
        outcome: 'ok',
      });
      return reply.code(204).send(null);
    },
  );
};

const noop = () => {};

/** model, manufacturer and measurement names of a decoded advertisement */
function described(decoded: {
  measurements: Record<string, unknown>;
  device?: { model?: string; manufacturer?: string };
  format: string;
}) {
  return {
    format: decoded.format,
    measurements: Object.keys(decoded.measurements).filter((k) => k !== 'packet_id'),
    ...(decoded.device?.model ? { model: decoded.device.model } : {}),
    ...(decoded.device?.manufacturer ? { manufacturer: decoded.device.manufacturer } : {}),
  };
}
