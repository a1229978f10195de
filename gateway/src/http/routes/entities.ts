// Entities: the list with latest states, a person's edits (name, area), re-binding, and
// commands (CONTRACT.md §6: the sentinel.cmd reply, 200 when ok, 422 otherwise).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { UnknownRecordError } from '../../model/registry.js';
import { errorResponses, HttpError } from '../errors.js';
import { entityView } from '../live.js';
import type { RouteDeps } from '../options.js';
import {
  BindingSchema,
  CommandBodySchema,
  CommandReplySchema,
  EditSchema,
  EntityIdParams,
  EntityWithStateSchema,
} from '../schemas.js';

export const entityRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, o) => {
  const known = <T>(work: () => Promise<T>): Promise<T> =>
    work().catch((error: unknown) => {
      if (error instanceof UnknownRecordError) throw new HttpError('not_found', error.message);
      throw error;
    });

  app.get(
    '/api/entities',
    {
      schema: {
        summary: 'every entity with its latest known state (null when none)',
        response: { 200: z.array(EntityWithStateSchema) },
      },
      config: { role: 'viewer' },
    },
    async () => o.registry.entities().map((entity) => entityView(entity, o.latest)),
  );

  app.patch(
    '/api/entities/:id',
    {
      schema: {
        summary: 'rename an entity or set its area (the name is kept over later hellos)',
        params: EntityIdParams,
        body: EditSchema,
        response: { 200: EntityWithStateSchema, ...errorResponses('not_found') },
      },
      config: { role: 'admin' },
    },
    async (request) => {
      const entity = await known(() => o.registry.editEntity(request.params.id, request.body));
      await o.people.audit({
        ts: Date.now(),
        ...o.audit(request),
        action: 'entity.edit',
        target: entity.id,
        outcome: 'ok',
        detail: request.body,
      });
      return entityView(entity, o.latest);
    },
  );

  app.put(
    '/api/entities/:id/bindings',
    {
      schema: {
        summary: "re-bind an entity to other sources (a hardware swap keeps the entity's id and history)",
        params: EntityIdParams,
        body: z.array(BindingSchema).min(1).max(16),
        response: { 200: EntityWithStateSchema, ...errorResponses('not_found') },
      },
      config: { role: 'admin' },
    },
    async (request) => {
      const entity = await known(() => o.registry.setBindings(request.params.id, request.body));
      await o.people.audit({
        ts: Date.now(),
        ...o.audit(request),
        action: 'entity.bindings',
        target: entity.id,
        outcome: 'ok',
        detail: request.body,
      });
      return entityView(entity, o.latest);
    },
  );

  app.post(
    '/api/entities/:id/command',
    {
      schema: {
        summary: 'command an entity: the sentinel.cmd reply, 200 when the device did it, 422 otherwise',
        params: EntityIdParams,
        body: CommandBodySchema,
        response: { 200: CommandReplySchema, 422: CommandReplySchema },
      },
      config: { role: 'operator' },
    },
    async (request, reply) => {
      const answer = await o.router.route(request.params.id, Buffer.from(JSON.stringify(request.body)));
      o.metrics.commands.inc({ result: answer.ok ? 'ok' : answer.error.code });
      await o.people.audit({
        ts: Date.now(),
        ...o.audit(request),
        action: 'command',
        target: request.params.id,
        outcome: answer.ok ? 'ok' : 'failed',
        detail: answer.ok ? request.body : { ...request.body, error: answer.error.code },
      });
      return reply.code(answer.ok ? 200 : 422).send(answer);
    },
  );
};
