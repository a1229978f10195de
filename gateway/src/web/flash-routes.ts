// The browser flasher's HTTP side: the /flash page, its script (flash-bundle.ts), the firmware
// builds under <data>/firmware, and POST /api/provision, which registers a device and
// answers with the NVS partition that carries its gateway URLs and credentials.

import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { buildProvisioningNvs, FirmwareFormatError, firstIssue, PicketIdSchema } from '@sentinel/firmware';
import { z } from 'zod';
import { DeviceExistsError } from '../auth/credentials.js';
import { FirmwareStore } from '../firmware-store.js';
import type { Logger } from '../log.js';
import { send as json, readBody } from '../transports/http.js';
import { flashAppScript } from './flash-bundle.js';

export interface FlashRoutesOptions {
  dataDir: string;
  /** registers a picket device; rejects with DeviceExistsError when the id is taken */
  addDevice(id: string): Promise<{ device_id: string; token: string }>;
  log: Logger;
}

const PAGE = new URL('./flash.html', import.meta.url);
const MAX_PROVISION_BODY = 8 * 1024;

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

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

export function flashRoutes(o: FlashRoutesOptions): Handler {
  const store = new FirmwareStore(o.dataDir);
  let bundle: Promise<string> | undefined;

  const script = () => {
    bundle ??= flashAppScript().catch((error: unknown) => {
      bundle = undefined; // try again on the next request
      throw error;
    });
    return bundle;
  };

  return async (req, res, url) => {
    const path = url.pathname;
    if (req.method === 'GET' && path === '/flash') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(await readFile(PAGE));
      return true;
    }
    if (req.method === 'GET' && path === '/flash/app.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' });
      res.end(await script());
      return true;
    }
    if (req.method === 'GET' && path === '/api/firmware') {
      json(res, 200, await store.list());
      return true;
    }
    if (req.method === 'GET' && path.startsWith('/firmware/')) {
      let relative: string | undefined;
      try {
        relative = decodeURIComponent(path.slice('/firmware/'.length));
      } catch {
        relative = undefined; // a malformed %-escape names no file
      }
      const file = relative === undefined ? undefined : await store.file(relative);
      if (!file) {
        json(res, 404, { error: `no such firmware file: ${path}` });
        return true;
      }
      res.writeHead(200, {
        'content-type': path.endsWith('.json') ? 'application/json' : 'application/octet-stream',
        'content-length': file.length,
      });
      res.end(file);
      return true;
    }
    if (req.method === 'POST' && path === '/api/provision') {
      await provision(req, res);
      return true;
    }
    return false;
  };

  async function provision(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req, MAX_PROVISION_BODY);
    if (body === undefined) return json(res, 413, { error: `body over ${MAX_PROVISION_BODY} bytes` });
    let parsed: z.infer<typeof ProvisionRequestSchema>;
    try {
      parsed = ProvisionRequestSchema.parse(JSON.parse(body.toString('utf8')));
    } catch (error) {
      const reason = error instanceof z.ZodError ? firstIssue(error, 'body') : 'the body is not JSON';
      return json(res, 400, { error: reason });
    }
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
    // the NVS partition: check with a stand-in as long as a real token (32 random bytes, base64url)
    // before the id is registered, so a refusal leaves nothing half-registered.
    try {
      nvsFor('x'.repeat(43));
    } catch (error) {
      if (error instanceof FirmwareFormatError) return json(res, 400, { error: error.message });
      throw error;
    }
    let credentials: { device_id: string; token: string };
    try {
      credentials = await o.addDevice(parsed.device_id);
    } catch (error) {
      if (error instanceof DeviceExistsError)
        return json(res, 409, {
          error: `device "${parsed.device_id}" is already registered: pick another id or remove it first`,
        });
      throw error;
    }
    const nvs = nvsFor(credentials.token);
    // the token and Wi-Fi password travel only in the NVS bytes, never into the log
    o.log.info(
      { device_id: credentials.device_id, gateway_urls: parsed.gateway_urls },
      'device provisioned from the flasher page',
    );
    json(res, 200, { device_id: credentials.device_id, nvs: Buffer.from(nvs).toString('base64') });
  }
}
