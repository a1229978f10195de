// GET /api/ota/download/:offer — the image of an OTA offer, for the one device it was
// offered to (docs/ota.md). Not a people route: the device proves itself with its own
// token (`Authorization: Bearer <id>:<token>`, as on /picket) plus the short-lived
// credential in the offer's URL, so a copied URL is useless to anyone else. Streams
// from the catalog file with `Range` resume (206, Content-Range; 416 for a range the
// file does not have), so a device that lost power resumes from its last byte. On an
// external NATS the file is this node's verified copy of the object store's image
// (OtaCatalog.imageFile, resolved when the download is authorized).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { DownloadRefusalReason, OtaDownloads } from '../../ota/fleet.js';
import { DOWNLOAD_REFUSALS } from '../../ota/fleet.js';
import type { RouteDeps } from '../options.js';

/**
 * Reads (and socket writes) of 64 KiB, as a plain static server makes them: measured with
 * fifty downloads at once (`npm run bench -- ota`), 256 KiB writes served them more slowly.
 */
const READ_CHUNK = 64 * 1024;

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` (one range; devices ask for one) → inclusive bounds, or undefined when unsatisfiable */
export function parseRange(header: string, size: number): { start: number; end: number } | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return undefined;
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || start > end) return undefined;
  return { start, end };
}

export const otaRoutes: FastifyPluginAsyncZod<RouteDeps & { ota: OtaDownloads }> = async (app, o) => {
  const refuse = (reason: DownloadRefusalReason, message: string) => ({
    status: DOWNLOAD_REFUSALS[reason],
    body: { error: { code: reason, message } },
  });

  app.get(
    '/api/ota/download/:offer',
    {
      schema: {
        summary: 'the image of an OTA offer, for the device it was offered to (Range resume)',
        params: z.object({ offer: z.string().max(64) }),
        querystring: z.object({ credential: z.string().max(128).optional() }),
        // the image itself (200/206) or a refusal with a specific code; not documented as JSON
        hide: true,
      },
      config: { role: 'public' },
    },
    async (request, reply) => {
      const decision = await o.ota.authorize(
        request.params.offer,
        request.query.credential,
        request.headers.authorization,
      );
      if (!decision.ok) {
        const refusal = refuse(decision.reason, decision.message);
        return reply.code(refusal.status).send(refusal.body);
      }
      const { grant } = decision;
      const info = await stat(grant.path).catch(() => undefined);
      if (!info?.isFile() || info.size !== grant.size) {
        const message = `the image of offer ${grant.offer} is no longer in the catalog`;
        o.ota.refused('image_removed', grant.device, message);
        const refusal = refuse('image_removed', message);
        return reply.code(refusal.status).send(refusal.body);
      }
      let start = 0;
      let end = info.size - 1;
      const range = request.headers.range;
      if (range !== undefined) {
        const wanted = parseRange(range, info.size);
        if (!wanted) {
          const message = `${range} is not a single range within the ${info.size}-byte image`;
          o.ota.refused('range_not_satisfiable', grant.device, message);
          const refusal = refuse('range_not_satisfiable', message);
          return reply
            .code(refusal.status)
            .header('content-range', `bytes */${info.size}`)
            .send(refusal.body);
        }
        ({ start, end } = wanted);
      }
      o.ota.served(grant, start, end);
      // The bytes go from the file to the socket with nothing of Fastify's in between
      // (no onSend hooks, no serialiser): this is the hot path of a rollout, fifty devices
      // at once. Nothing hashes the bytes here
      // (the catalog checked the file once, the device checks what it got).
      reply.hijack();
      const stream = createReadStream(grant.path, { start, end, highWaterMark: READ_CHUNK });
      reply.raw.writeHead(range === undefined ? 200 : 206, {
        'content-type': 'application/octet-stream',
        'content-length': String(end - start + 1),
        'accept-ranges': 'bytes',
        etag: `"${grant.sha256}"`,
        'cache-control': 'no-store',
        ...(range === undefined ? {} : { 'content-range': `bytes ${start}-${end}/${info.size}` }),
      });
      // what was read is about what went out (no 'data' listener: it would slow the pipe)
      stream.once('close', () => o.ota.bytesSent(stream.bytesRead));
      // a device that goes away mid-download (power loss) ends the pipeline with an error: nothing to report
      pipeline(stream, reply.raw).catch(() => undefined);
    },
  );
};
