// Memory per idle device connection: the target's RSS before and after
// thousands of authenticated, idle MQTT connections (held by other processes,
// as one process could not hold them next to the target's own descriptors).
import type { WorkerClient } from '../lib/ipc.js';
import { log } from '../lib/log.js';
import { readRssKiB } from '../lib/proc.js';
import type { DeviceCredentials, HolderReply, HolderRequest } from '../lib/protocol.js';
import type { Target } from '../lib/targets.js';
import type { IdleRow } from './results.js';

export interface IdleSettings {
  keepaliveS: number;
  /** handshakes in flight per holder process */
  concurrency: number;
  /** before the first RSS reading, and again after the last connection */
  settleMs: number;
  connectTimeoutMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The median of a few readings a moment apart: one reading can land mid-GC. */
async function steadyRssKiB(pid: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(await readRssKiB(pid));
    await sleep(200);
  }
  samples.sort((a, b) => a - b);
  return samples[2]!;
}

export async function measureIdleRss(
  target: Target,
  holders: WorkerClient<HolderRequest, HolderReply>[],
  devicesPerHolder: DeviceCredentials[][],
  settings: IdleSettings,
): Promise<IdleRow> {
  const requested = devicesPerHolder.reduce((n, list) => n + list.length, 0);
  await sleep(settings.settleMs);
  const rssBeforeKiB = await steadyRssKiB(target.pid);
  log(`  ${target.name}: RSS ${(rssBeforeKiB / 1024).toFixed(1)} MiB; opening ${requested} idle connections`);
  const started = performance.now();
  const replies = await Promise.all(
    holders.map((holder, index) =>
      holder.request(
        {
          type: 'hold',
          port: target.mqttPort,
          devices: devicesPerHolder[index]!,
          keepaliveS: settings.keepaliveS,
          concurrency: settings.concurrency,
          timeoutMs: settings.connectTimeoutMs,
        },
        'holding',
        settings.connectTimeoutMs + 30_000,
      ),
    ),
  );
  const connectSeconds = (performance.now() - started) / 1000;
  const connections = replies.reduce((n, reply) => n + reply.connected, 0);
  const refused = replies.reduce((n, reply) => n + reply.refused, 0);
  const failed = replies.reduce((n, reply) => n + reply.failed, 0);
  const firstError = replies.find((reply) => reply.firstError)?.firstError;
  log(
    `  ${target.name}: ${connections} connected in ${connectSeconds.toFixed(1)} s (${refused} refused, ${failed} failed)`,
  );
  await sleep(settings.settleMs);
  const rssAfterKiB = await steadyRssKiB(target.pid);
  const released = await Promise.all(
    holders.map((holder) => holder.request({ type: 'release' }, 'released', 30_000)),
  );
  const droppedWhileHeld = released.reduce((n, reply) => n + reply.droppedWhileHeld, 0);
  if (connections === 0) {
    return {
      target: target.name,
      status: 'unavailable',
      reason: `no connection accepted (${firstError ?? 'no reason given'})`,
    };
  }
  const kibPerConnection = (rssAfterKiB - rssBeforeKiB) / connections;
  log(
    `  ${target.name}: RSS ${(rssAfterKiB / 1024).toFixed(1)} MiB → ${kibPerConnection.toFixed(2)} KiB per connection` +
      (droppedWhileHeld > 0 ? ` (${droppedWhileHeld} dropped while held)` : ''),
  );
  return {
    target: target.name,
    status: 'ok',
    connections,
    requested,
    rssBeforeKiB,
    rssAfterKiB,
    kibPerConnection,
    droppedWhileHeld,
    refused,
    failed,
    firstError,
    connectSeconds,
  };
}
