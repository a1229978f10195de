// The web app: its files under /assets (content-hashed chunks cached for a year, the
// rest revalidated), and index.html for / and every other page path, so the app's own
// router handles deep links (/devices/…, /onboarding). No framework file server: a few
// lines, with the path confined to the build folder.
import { createHash } from 'node:crypto';
import { readFile, realpath } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { HttpError } from '../errors.js';
import type { RouteDeps } from '../options.js';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** esbuild names split chunks name-HASH.js: those never change, so browsers may keep them. */
const HASHED = /-[A-Z0-9]{8,}\.[a-z0-9]+$/;
const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

/** Where the built app is: the @sentinel/web package's dist folder (undefined when not installed). */
export function defaultWebRoot(): string | undefined {
  try {
    return join(fileURLToPath(import.meta.resolve('@sentinel/web/package.json')), '..', 'dist');
  } catch {
    return undefined;
  }
}

export const staticRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, o) => {
  const root = o.webRoot ?? defaultWebRoot();
  const assets = root && resolve(root, 'assets');

  const sendIndex = async (_request: FastifyRequest, reply: FastifyReply) => {
    const html = root ? await readFile(join(root, 'index.html')).catch(() => undefined) : undefined;
    if (!html) throw new HttpError('not_found', 'the web app is not built: run `npm run build`');
    return reply.type('text/html; charset=utf-8').header('cache-control', REVALIDATE).send(html);
  };

  app.get('/', { schema: { hide: true }, config: { role: 'public' } }, sendIndex);

  app.get('/assets/*', { schema: { hide: true }, config: { role: 'public' } }, async (request, reply) => {
    const relative = (request.params as { '*': string })['*'];
    const file = assets ? await confined(assets, relative) : undefined;
    if (!file) throw new HttpError('not_found', `no such file: ${request.url}`);
    const { body, encoding } = await readEncoded(file, request.headers['accept-encoding']);
    if (!body) throw new HttpError('not_found', `no such file: ${request.url}`);
    const etag = `"${createHash('sha1').update(body).digest('base64url')}${encoding ? `-${encoding}` : ''}"`;
    reply
      .type(TYPES[extname(file)] ?? 'application/octet-stream')
      .header('cache-control', HASHED.test(file) ? IMMUTABLE : REVALIDATE)
      .header('vary', 'accept-encoding')
      .header('etag', etag);
    if (encoding) reply.header('content-encoding', encoding);
    if (request.headers['if-none-match'] === etag) return reply.code(304).send();
    return reply.send(body);
  });

  // every other GET that is not the API is a page of the app; anything else is a 404
  app.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const page =
      (request.method === 'GET' || request.method === 'HEAD') && !/^\/(api|assets|firmware)(\/|$)/.test(path);
    if (page) return sendIndex(request, reply);
    throw new HttpError('not_found', `no such route: ${request.method} ${path}`);
  });
};

/** The build's compressed copies (scripts/build.mjs), by preference: brotli, then gzip. */
const ENCODINGS = [
  { name: 'br', suffix: '.br' },
  { name: 'gzip', suffix: '.gz' },
] as const;

/** The file as the browser accepts it: a compressed copy when there is one it takes, else as it is. */
async function readEncoded(
  file: string,
  acceptEncoding: string | undefined,
): Promise<{ body: Buffer | undefined; encoding?: string }> {
  // "br;q=0" refuses brotli; other weights only order what we prefer anyway
  const accepted = new Set(
    (acceptEncoding ?? '')
      .toLowerCase()
      .split(',')
      .map((entry) => entry.trim().split(/\s*;\s*/))
      .filter(([, weight]) => !weight || !/^q=0(\.0*)?$/.test(weight))
      .map(([name]) => name),
  );
  for (const { name, suffix } of ENCODINGS) {
    if (!accepted.has(name)) continue;
    const body = await readFile(file + suffix).catch(() => undefined);
    if (body) return { body, encoding: name };
  }
  return { body: await readFile(file).catch(() => undefined) };
}

/** The real path of `relative` under `dir`, or undefined when it leaves it (.., symlinks) or does not exist. */
async function confined(dir: string, relative: string): Promise<string | undefined> {
  const base = await realpath(dir).catch(() => undefined);
  if (!base || relative.includes('\0')) return undefined;
  const target = await realpath(resolve(base, relative)).catch(() => undefined);
  return target?.startsWith(base + sep) ? target : undefined;
}
