// The browser flasher's routes as a Fastify plugin (ported from web/flash-routes.ts, same
// behaviour): the /flash page and its script, the firmware builds under <data>/firmware,
// and POST /api/provision, which registers a device and answers with the NVS partition
// carrying its gateway URLs and credentials. All for admins: provisioning mints a token.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { buildProvisioningNvs, FirmwareFormatError, PicketIdSchema } from '@sentinel/firmware';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DeviceExistsError } from '../../auth/credentials.js';
import { FirmwareStore } from '../../firmware-store.js';
import { flashAppScript } from '../../web/flash-bundle.js';
import { errorResponses, HttpError } from '../errors.js';
import { SECURITY_HEADERS } from '../guards.js';
import type { RouteDeps } from '../options.js';

const PAGE = new URL('../../web/flash.html', import.meta.url);
/** a token as long as a real one (32 random bytes, base64url), to check the record fits before registering */
const STAND_IN_TOKEN = 'x'.repeat(43);

const GatewayUrlSchema = z
  .string()
  .url()
  .refine((u) => /^(mqtts?|wss?):\/\//.test(u), 'gateway URLs are mqtt://, mqtts://, ws:// or wss://');

export const ProvisionRequestSchema = z.object({
  device_id: PicketIdSchema,
  gateway_urls: z.array(GatewayUrlSchema).min(1).max(4),
  /** the NVS partition's size from the image's partition table */
  nvs_size: z
    .number()
    .int()
    .min(0x3000)
    .max(0x100000)
    .refine((n) => n % 0x1000 === 0, 'the NVS size is a multiple of 4096'),
  wifi: z.object({ ssid: z.string().min(1).max(32), password: z.string().max(64) }).optional(),
});

/** The page's one inline <style>, allowed by its hash so the CSP needs no 'unsafe-inline'. */
function pageCsp(html: string): string {
  const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1];
  const base = SECURITY_HEADERS['content-security-policy'] ?? '';
  if (style === undefined) return base;
  const hash = createHash('sha256').update(style).digest('base64');
  return base.replace("style-src 'self'", `style-src 'self' 'sha256-${hash}'`);
}

export const flashRoutes: FastifyPluginAsyncZod<RouteDeps> = async (app, o) => {
  const store = new FirmwareStore(o.dataDir);
  let bundle: Promise<string> | undefined;
  const script = () => {
    bundle ??= flashAppScript().catch((error: unknown) => {
      bundle = undefined; // try again on the next request
      throw error;
    });
    return bundle;
  };

  app.get(
    '/flash',
    { schema: { summary: 'the browser flasher page' }, config: { role: 'admin' } },
    async (_request, reply) => {
      const html = await readFile(PAGE, 'utf8');
      return reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', pageCsp(html))
        .send(html);
    },
  );

  app.get(
    '/flash/app.js',
    { schema: { summary: "the flasher page's script" }, config: { role: 'admin' } },
    async (_request, reply) =>
      reply
        .type('text/javascript; charset=utf-8')
        .header('cache-control', 'no-cache')
        .send(await script()),
  );

  app.get(
    '/api/firmware',
    {
      schema: {
        summary: 'the firmware builds under <data>/firmware, and folders that are not valid builds',
        response: {
          200: z.object({
            builds: z.array(
              z.object({
                id: z.string(),
                name: z.string(),
                version: z.string().optional(),
                chips: z.array(z.string()),
                manifest: z.string(),
              }),
            ),
            problems: z.array(z.object({ id: z.string(), reason: z.string() })),
          }),
        },
      },
      config: { role: 'admin' },
    },
    async () => store.list(),
  );

  app.get(
    '/firmware/*',
    {
      schema: { summary: 'a file of a firmware build (a manifest or an image part)' },
      config: { role: 'admin' },
    },
    async (request, reply) => {
      // Fastify decoded the path already; a malformed escape never gets here (400)
      const relative = (request.params as { '*': string })['*'];
      const file = await store.file(relative);
      if (!file) throw new HttpError('not_found', `no such firmware file: ${request.url}`);
      return reply
        .type(relative.endsWith('.json') ? 'application/json' : 'application/octet-stream')
        .header('content-length', file.length)
        .send(file);
    },
  );

  app.post(
    '/api/provision',
    {
      bodyLimit: 8 * 1024,
      schema: {
        summary: 'register a picket device and answer with the NVS partition that provisions it',
        body: ProvisionRequestSchema,
        response: {
          200: z.object({ device_id: z.string(), nvs: z.string().describe('base64') }),
          ...errorResponses('bad_request', 'conflict'),
        },
      },
      config: { role: 'admin' },
    },
    async (request) => {
      const parsed = request.body;
      const nvsFor = (token: string) =>
        buildProvisioningNvs(
          {
            gatewayUrls: parsed.gateway_urls,
            deviceId: parsed.device_id,
            token,
            ...(parsed.wifi ? { wifi: parsed.wifi } : {}),
          },
          parsed.nvs_size,
        );
      // The provisioning record has limits of its own (URL length, Wi-Fi password length) and must fit
      // the NVS partition: check with a stand-in before the id is registered, so a refusal leaves
      // nothing half-registered.
      try {
        nvsFor(STAND_IN_TOKEN);
      } catch (error) {
        if (error instanceof FirmwareFormatError) throw new HttpError('bad_request', error.message);
        throw error;
      }
      let credentials: { device_id: string; token: string };
      try {
        credentials = await o.credentials.add(parsed.device_id);
      } catch (error) {
        if (error instanceof DeviceExistsError)
          throw new HttpError(
            'conflict',
            `device "${parsed.device_id}" is already registered: pick another id or remove it first`,
          );
        throw error;
      }
      const nvs = nvsFor(credentials.token);
      // the token and Wi-Fi password travel only in the NVS bytes, never into the log or the audit
      o.log.info(
        { device_id: credentials.device_id, gateway_urls: parsed.gateway_urls },
        'device provisioned from the flasher page',
      );
      await o.people.audit({
        ts: Date.now(),
        ...o.audit(request),
        action: 'device.provision',
        target: credentials.device_id,
        outcome: 'ok',
      });
      return { device_id: credentials.device_id, nvs: Buffer.from(nvs).toString('base64') };
    },
  );
};
