// Device credentials as `sentinel device add <id>` prints them, one JSON object a
// line: {"device_id":"picket-<id>","token":"…"}. Lets a file of such lines drive a
// fleet (`sentinel device add a >> creds.jsonl; sentinel simulate picket --credentials creds.jsonl`).
import { PicketIdSchema } from '@sentinel/firmware';
import { z } from 'zod';
import type { DeviceCredentials } from './fleet.js';
import { SimulatorOptionsError } from './transport.js';
import { decode } from './wire.js';

const BUS_PREFIX = 'picket-';

export const CredentialLineSchema = z.object({
  device_id: z
    .string()
    .refine((id) => id.startsWith(BUS_PREFIX), `must start with "${BUS_PREFIX}"`)
    .transform((id) => id.slice(BUS_PREFIX.length))
    .pipe(PicketIdSchema),
  token: z.string().min(1),
});

/** Parses JSON lines of credentials; blank lines are skipped, anything else that does not parse is an error. */
export function parsePicketCredentials(text: string, source = 'credentials'): DeviceCredentials[] {
  const devices = new Map<string, DeviceCredentials>();
  const problems: string[] = [];
  for (const [index, line] of text.split(/\r?\n/).entries()) {
    if (line.trim() === '') continue;
    const decoded = decode(CredentialLineSchema, line);
    if (!decoded.ok) {
      problems.push(`${source}:${index + 1}: ${decoded.error}`);
      continue;
    }
    const { device_id: id, token } = decoded.value;
    // a later line wins: re-adding a device prints its new token below the old one
    devices.set(id, { id, token });
  }
  if (problems.length > 0) throw new SimulatorOptionsError(problems.slice(0, 3).join('; '));
  return [...devices.values()];
}

/** The bus id (`picket-<id>`) back to the picket id, or undefined when it is not a picket. */
export function picketIdOf(deviceId: string): string | undefined {
  if (!deviceId.startsWith(BUS_PREFIX)) return undefined;
  const id = deviceId.slice(BUS_PREFIX.length);
  return PicketIdSchema.safeParse(id).success ? id : undefined;
}
