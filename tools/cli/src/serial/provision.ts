// `sentinel flash --provision <id>`: where the device's NVS partition is (from the
// partition table being flashed, else the one on the device at 0x8000), and the NVS
// image that carries its gateway URLs and credentials (firmware's provisioning layout).

import {
  buildProvisioningNvs,
  DEFAULT_TABLE_OFFSET,
  decodePartitionTable,
  FirmwareFormatError,
  type FlasherSession,
  type FlashPart,
  findPartition,
  type PartitionEntry,
  ProvisioningSchema,
} from '@sentinel/firmware';
import { CliError, UsageError } from '../errors.js';

const TABLE_LENGTH = 0xc00;

export interface ProvisionRequest {
  deviceId: string;
  gatewayUrls: string[];
  wifi?: { ssid: string; password: string };
}

/** The NVS partition of the table among the parts, or of the table on the device. */
export async function nvsPartition(
  parts: FlashPart[],
  session: FlasherSession,
  stub: boolean,
): Promise<PartitionEntry> {
  const part = parts.find((p) => p.offset === DEFAULT_TABLE_OFFSET);
  let table: Uint8Array;
  let where: string;
  if (part) {
    table = part.data;
    where = `${part.name ?? 'the part'} at 0x8000`;
  } else {
    if (!stub)
      throw new UsageError(
        '--provision without a partition table part reads the one on the device: drop --no-stub',
      );
    table = await session.read(DEFAULT_TABLE_OFFSET, TABLE_LENGTH);
    where = 'the partition table on the device (0x8000)';
  }
  let entries: PartitionEntry[];
  try {
    entries = decodePartitionTable(table).entries;
  } catch (error) {
    if (error instanceof FirmwareFormatError)
      throw new CliError(`${where} is not a valid partition table: ${error.message}`, { cause: error });
    throw error;
  }
  const nvs = findPartition(entries, { type: 'data', subtype: 'nvs' });
  if (!nvs) throw new CliError(`${where} has no NVS partition to hold the provisioning data`);
  for (const p of parts)
    if (p.offset < nvs.offset + nvs.size && p.offset + p.data.length > nvs.offset)
      throw new UsageError(
        `${p.name ?? 'a part'} at 0x${p.offset.toString(16)} overlaps the NVS partition (0x${nvs.offset.toString(16)}) that --provision writes`,
      );
  return nvs;
}

export function provisioningPart(nvs: PartitionEntry, request: ProvisionRequest, token: string): FlashPart {
  try {
    return {
      offset: nvs.offset,
      name: `provisioning (NVS "${nvs.name}")`,
      data: buildProvisioningNvs(
        {
          gatewayUrls: request.gatewayUrls,
          deviceId: request.deviceId,
          token,
          ...(request.wifi ? { wifi: request.wifi } : {}),
        },
        nvs.size,
      ),
    };
  } catch (error) {
    if (error instanceof FirmwareFormatError) throw new UsageError(error.message, { cause: error });
    throw error;
  }
}

/** Checks the request before anything is flashed, so a bad URL or password costs nothing. */
export function checkProvisionRequest(request: ProvisionRequest): void {
  const parsed = ProvisioningSchema.safeParse({ ...request, token: 'unchecked' });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const flag: Record<string, string> = {
      gatewayUrls: '--gateway-url',
      deviceId: '--provision',
      wifi: issue.path[1] === 'password' ? '--wifi-password' : '--wifi-ssid',
    };
    throw new UsageError(`${flag[String(issue.path[0])] ?? String(issue.path[0])}: ${issue.message}`);
  }
}
