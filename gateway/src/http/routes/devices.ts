// Devices: records with their entities, and a picket device's credentials (what
// `sentinel device add|rotate|remove` does, through the same CredentialStore).
import { PicketIdSchema } from '@sentinel/firmware';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DeviceExistsError, DeviceNotRegisteredError } from '../../auth/credentials.js';
import { UnknownRecordError } from '../../model/registry.js';
import { errorResponses, HttpError } from '../errors.js';
import { deviceView, entityView } from '../live.js';
import type { RouteDeps } from '../options.js';
import { DeviceDetailSchema, DeviceSchema, DeviceTokenSchema, EditSchema } from '../schemas.js';

const DeviceParams = z.object({ id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'not a device id') });
const PICKET = 'picket-';

/** The picket id of a picket device id (`picket-lounge` → `lounge`); only picket devices have tokens. */
function picketIdOf(deviceId: string): string {
  if (!deviceId.startsWith(PICKET))
    throw new HttpError('bad_request', `${deviceId} is not a picket device: only picket devices have tokens`);
  return deviceId.slice(PICKET.length);
}

export const deviceRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, o) => {
  const record = (id: string) => {
    const device = o.registry.device(id);
    if (!device) throw new HttpError('not_found', `no device ${id}`);
    return device;
  };
  const audit = (
    request: Parameters<RouteDeps['audit']>[0],
    action: string,
    target: string,
    detail?: unknown,
  ) => o.people.audit({ ts: Date.now(), ...o.audit(request), action, target, outcome: 'ok', detail });

  app.get(
    '/api/devices',
    {
      schema: { summary: 'every device with its entities’ ids', response: { 200: z.array(DeviceSchema) } },
      config: { role: 'viewer' },
    },
    async () => o.registry.devices().map((device) => deviceView(device, o.registry)),
  );

  app.get(
    '/api/devices/:id',
    {
      schema: {
        summary: 'a device with its entities, their bindings and states',
        params: DeviceParams,
        response: { 200: DeviceDetailSchema, ...errorResponses('not_found') },
      },
      config: { role: 'viewer' },
    },
    async (request) => {
      const device = record(request.params.id);
      return {
        ...device,
        entities: o.registry.entitiesOfDevice(device.id).map((e) => entityView(e, o.latest)),
      };
    },
  );

  app.post(
    '/api/devices',
    {
      schema: {
        summary: 'register a picket device (as `sentinel device add`): its token, shown once',
        body: z.strictObject({ id: PicketIdSchema }),
        response: { 201: DeviceTokenSchema, ...errorResponses('conflict') },
      },
      config: { role: 'admin' },
    },
    async (request, reply) => {
      try {
        const created = await o.credentials.add(request.body.id);
        await audit(request, 'device.add', created.device_id);
        return reply.code(201).send(created);
      } catch (error) {
        if (error instanceof DeviceExistsError) throw new HttpError('conflict', error.message);
        throw error;
      }
    },
  );

  app.patch(
    '/api/devices/:id',
    {
      schema: {
        summary: 'rename a device (kept over its later hellos) or set its area',
        params: DeviceParams,
        body: EditSchema,
        response: { 200: DeviceSchema, ...errorResponses('not_found') },
      },
      config: { role: 'admin' },
    },
    async (request) => {
      try {
        const device = await o.registry.editDevice(request.params.id, request.body);
        await audit(request, 'device.edit', device.id, request.body);
        return deviceView(device, o.registry);
      } catch (error) {
        if (error instanceof UnknownRecordError) throw new HttpError('not_found', error.message);
        throw error;
      }
    },
  );

  app.post(
    '/api/devices/:id/rotate',
    {
      schema: {
        summary: 'a new token for a picket device; the old one stops working at once',
        params: DeviceParams,
        response: { 200: DeviceTokenSchema, ...errorResponses('not_found', 'bad_request') },
      },
      config: { role: 'admin' },
    },
    async (request) => {
      try {
        const rotated = await o.credentials.rotate(picketIdOf(request.params.id));
        await audit(request, 'device.rotate', rotated.device_id);
        return rotated;
      } catch (error) {
        if (error instanceof DeviceNotRegisteredError) throw new HttpError('not_found', error.message);
        throw error;
      }
    },
  );

  app.delete(
    '/api/devices/:id',
    {
      schema: {
        summary:
          "remove a device: a picket device's token is revoked (its connection closes); its entities stay",
        params: DeviceParams,
        response: { 204: z.null(), ...errorResponses('not_found') },
      },
      config: { role: 'admin' },
    },
    async (request, reply) => {
      const id = request.params.id;
      const revoked = id.startsWith(PICKET) ? await o.credentials.remove(picketIdOf(id)) : false;
      const forgotten = await o.registry.removeDevice(id);
      if (!revoked && !forgotten) throw new HttpError('not_found', `no device ${id}`);
      await audit(request, 'device.remove', id);
      return reply.code(204).send(null);
    },
  );
};
