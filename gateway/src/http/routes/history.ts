// History: GET /api/entities/<id>/history (downsampled on the server into min/max/mean
// buckets, so a month draws from a few hundred points; ranges whose buckets are whole
// minutes from the 1-minute rollups, see http/history.ts) and history.csv (every reading).
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses, HttpError } from '../errors.js';
import { chartHistory, readHistory } from '../history.js';
import type { RouteDeps } from '../options.js';
import { EntityIdParams } from '../schemas.js';

const RANGES = { '1h': 3600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 } as const;
const RangeSchema = z
  .enum(Object.keys(RANGES) as [keyof typeof RANGES, ...(keyof typeof RANGES)[]])
  .default('24h');

const HistorySchema = z.object({
  entity_id: z.string(),
  unit: z.string().optional(),
  from: z.number(),
  to: z.number(),
  bucket_ms: z.number(),
  points: z
    .array(
      z.tuple([z.number(), z.number().nullable(), z.number().nullable(), z.number().nullable(), z.number()]),
    )
    .describe(
      '[bucket start, min, max, mean, count], one per bucket (at most `points`); empty buckets hold nulls',
    ),
});

export const historyRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, o) => {
  const entityOf = (id: string) => {
    const entity = o.registry.entity(id);
    if (!entity) throw new HttpError('not_found', `no entity ${id}`);
    return entity;
  };

  app.get(
    '/api/entities/:id/history',
    {
      schema: {
        summary:
          "an entity's readings over a range, downsampled into min/max/mean buckets (whole minutes, from 1-minute rollups, when a bucket is a minute or more)",
        params: EntityIdParams,
        querystring: z.object({
          range: RangeSchema,
          points: z.coerce.number().int().min(1).max(5000).default(600),
        }),
        response: { 200: HistorySchema, ...errorResponses('not_found') },
      },
      config: { role: 'viewer' },
    },
    async (request) => {
      const entity = entityOf(request.params.id);
      const chart = await chartHistory(o.bus, entity.id, RANGES[request.query.range], request.query.points);
      return {
        entity_id: entity.id,
        ...(entity.unit !== undefined ? { unit: entity.unit } : {}),
        from: chart.from,
        to: chart.to,
        bucket_ms: chart.bucket_ms,
        points: chart.points,
      };
    },
  );

  app.get(
    '/api/entities/:id/history.csv',
    {
      schema: {
        summary: 'every reading of an entity over a range, as CSV: ts,iso_time,value',
        params: EntityIdParams,
        querystring: z.object({ range: RangeSchema }),
      },
      config: { role: 'viewer' },
    },
    async (request, reply) => {
      const entity = entityOf(request.params.id);
      const to = Date.now();
      const from = to - RANGES[request.query.range];
      async function* lines() {
        yield 'ts,iso_time,value\n';
        for await (const { ts, value } of readHistory(o.bus.js, entity.id, from, to))
          yield `${ts},${new Date(ts).toISOString()},${csvValue(value)}\n`;
      }
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${entity.id}-${request.query.range}.csv"`)
        .send(Readable.from(lines()));
    },
  );
};

/** A value as one CSV field (RFC 4180): text quoted, quotes doubled; unavailable is empty. */
function csvValue(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
