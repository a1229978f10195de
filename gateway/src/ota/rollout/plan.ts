// Turns a `start` request into a rollout, or refuses it with a specific reason before
// anything is offered: unknown devices, a version the catalog does not have (for a
// device's chip), a downgrade without allow_downgrade.
import { randomUUID } from 'node:crypto';
import type { OtaFleet, OtaImageRef } from '../types.js';
import { compareVersions } from '../versions.js';
import type { DeviceRecord, RefusalCode, Rollout, StartRequest } from './schema.js';

/** A catalog image as a rollout sees it (firmware-store.ts CatalogEntry). */
export interface CatalogImage {
  sha256: string;
  version: string;
  size: number;
  chip: string;
  channel: string;
  signature: unknown;
}

export class RolloutRefusal extends Error {
  override name = 'RolloutRefusal';
  constructor(
    readonly code: RefusalCode,
    message: string,
  ) {
    super(message);
  }
}

/** At most this many ids in a message; the rest are counted. */
const listed = (ids: string[]) =>
  ids.length <= 10 ? ids.join(', ') : `${ids.slice(0, 10).join(', ')} and ${ids.length - 10} more`;

export async function planRollout(
  request: StartRequest,
  fleet: Pick<OtaFleet, 'devices'>,
  catalog: CatalogImage[],
  now: number,
): Promise<Rollout> {
  const known = await fleet.devices();
  const byId = new Map(known.map((d) => [d.device, d]));
  let chosen: typeof known;
  if (request.devices) {
    const unknown = request.devices.filter((id) => !byId.has(id));
    if (unknown.length > 0)
      throw new RolloutRefusal(
        'unknown_devices',
        `unknown device${unknown.length > 1 ? 's' : ''}: ${listed(unknown)} (not registered picket devices that said hello; see \`sentinel device list\`)`,
      );
    chosen = [...new Set(request.devices)].map((id) => byId.get(id)!);
  } else if (request.model !== undefined) {
    chosen = known.filter((d) => d.model === request.model);
    if (chosen.length === 0)
      throw new RolloutRefusal('no_devices', `no picket device of model "${request.model}"`);
  } else {
    chosen = [...known].sort((a, b) => a.device.localeCompare(b.device));
    if (chosen.length === 0) throw new RolloutRefusal('no_devices', 'no picket devices are registered');
  }

  const images = catalog.filter(
    (image) =>
      image.version === request.version &&
      (request.channel === undefined || image.channel === request.channel),
  );
  if (images.length === 0)
    throw new RolloutRefusal(
      'not_in_catalog',
      `version ${request.version} is not in the firmware catalog${request.channel ? ` (channel ${request.channel})` : ''}; add it with \`sentinel firmware add\``,
    );
  const imageFor = new Map<string, OtaImageRef>();
  const noImage: string[] = [];
  for (const device of chosen) {
    const image = images.find((i) => i.chip === device.chip);
    if (image)
      imageFor.set(device.device, {
        sha256: image.sha256,
        version: image.version,
        size: image.size,
        signed: image.signature !== null && image.signature !== undefined,
      });
    else noImage.push(`${device.device} (${device.chip || 'unknown chip'})`);
  }
  if (noImage.length > 0)
    throw new RolloutRefusal(
      'no_image_for_chip',
      `the catalog has ${request.version} for ${[...new Set(images.map((i) => i.chip))].join(', ')} only, not for ${listed(noImage)}`,
    );
  if (!request.allow_downgrade) {
    const older = chosen.filter((d) => d.fw !== '' && compareVersions(request.version, d.fw) < 0);
    if (older.length > 0)
      throw new RolloutRefusal(
        'downgrade',
        `${request.version} is older than what ${listed(older.map((d) => `${d.device} (${d.fw})`))} run${older.length > 1 ? '' : 's'}; pass --allow-downgrade to install it anyway`,
      );
  }

  const devices: Record<string, DeviceRecord> = {};
  const toUpdate: string[] = [];
  for (const device of chosen) {
    const already = device.fw === request.version;
    devices[device.device] = {
      image: imageFor.get(device.device)!,
      from: device.fw,
      state: already ? 'skipped' : 'pending',
      ...(already ? { reason: `already runs ${request.version}` } : {}),
      updated: now,
    };
    if (!already) toUpdate.push(device.device);
  }
  const canary = Math.min(request.canary, toUpdate.length);
  const stages: string[][] = [];
  if (canary > 0) stages.push(toUpdate.slice(0, canary));
  for (let i = canary; i < toUpdate.length; i += request.batch)
    stages.push(toUpdate.slice(i, i + request.batch));
  return {
    id: randomUUID(),
    version: request.version,
    ...(request.channel ? { channel: request.channel } : {}),
    allow_downgrade: request.allow_downgrade,
    deadline_ms: request.deadline_ms,
    created: now,
    updated: now,
    status: stages.length === 0 ? 'completed' : 'running',
    stages,
    canary,
    stage: 0,
    devices,
  };
}
