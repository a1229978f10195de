// BLE: the proxies' health as their status heartbeats tell it, and bindkeys of
// encrypted sensors (KV sentinel_ble_keys, followed by the BLE adapter on the leader).
import { bleSubject, ProxyStatusSchema } from '@sentinel/protocol';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { BleKeyStore, InvalidBleKeyError } from '../../ble/keys.js';
import { ProxyDirectory } from '../../ble/proxies.js';
import { errorResponses, HttpError } from '../errors.js';
import type { RouteDeps } from '../options.js';

/** Proxies silent this long are no longer listed. */
const FORGET_PROXY_MS = 24 * 3600_000;

const ProxyViewSchema = z.object({
  proxy: z.string(),
  alive: z.boolean(),
  age_ms: z.number().int().describe('since its last status or advertisement batch'),
  status: ProxyStatusSchema,
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
  app.addHook('onClose', async () => sub.unsubscribe());
  let keys: BleKeyStore | undefined;

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

  const MacParams = z.object({ mac: z.string().min(1).max(32) });
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
        body: z.strictObject({ bindkey: z.string().min(1).max(64) }),
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
