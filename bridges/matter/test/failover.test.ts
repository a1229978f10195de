// `sentinel matter-server --nats` on two "nodes" (two processes) and a real nats-server:
// the first holds the `matter` lock and listens; the second waits as a standby without
// listening; when the first is SIGKILLed, the second takes the controller over from the
// KV bucket and commands the light that was paired through the first, with no re-pairing.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type SimulatedMatterDevice,
  startSimulatedMatterDevice,
} from '../../../simulators/src/matter/index.js';
import { killStrays, SENTINEL_BIN, track } from '../../../test/support/cli.js';
import { startNats, type TestNats } from '../../../test/support/nats.js';
import type { MatterNodeData } from '../src/index.js';
import { ApiClient } from './support.js';

interface Line {
  event: string;
  url?: string;
  holder?: string | null;
}

/** `sentinel matter-server --nats …` with its stdout JSON lines, awaited by predicate. */
function startServer(natsUrl: string, nodeId: string) {
  const child: ChildProcess = track(
    spawn(
      process.execPath,
      [
        SENTINEL_BIN,
        'matter-server',
        '--port',
        '0',
        '--loopback-only',
        '--nats',
        natsUrl,
        '--node-id',
        nodeId,
        '--lock-ttl',
        '1500',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  );
  const lines: Line[] = [];
  const waiters: Array<{ match: (l: Line) => boolean; resolve: (l: Line) => void }> = [];
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  createInterface({ input: child.stdout! }).on('line', (text) => {
    const line = JSON.parse(text) as Line;
    const waiter = waiters.find((w) => w.match(line));
    if (waiter) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(line);
    } else lines.push(line);
  });
  return {
    child,
    stderr: () => stderr,
    next(match: (l: Line) => boolean): Promise<Line> {
      const found = lines.find(match);
      if (found) {
        lines.splice(lines.indexOf(found), 1);
        return Promise.resolve(found);
      }
      return new Promise((resolve, reject) => {
        waiters.push({ match, resolve });
        child.once('exit', (code) => reject(new Error(`matter-server ${nodeId} exited ${code}: ${stderr}`)));
      });
    },
    async kill(signal: NodeJS.Signals) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill(signal);
      await exited;
    },
  };
}

describe('matter-server --nats: one controller per cluster, taken over without re-pairing', () => {
  let nats: TestNats;
  let light: SimulatedMatterDevice;

  beforeAll(async () => {
    [nats, light] = await Promise.all([
      startNats(),
      startSimulatedMatterDevice({ type: 'on-off-light', passcode: 20202071, discriminator: 1071 }),
    ]);
  });

  afterAll(async () => {
    killStrays();
    await light?.stop();
    await nats?.stop();
  });

  it('the standby does not listen while the first holds the lock, then takes over on SIGKILL', async () => {
    const first = startServer(nats.url, 'node-a');
    const listening = await first.next((l) => l.event === 'listening');
    const second = startServer(nats.url, 'node-b');
    const standby = await second.next((l) => l.event === 'standby' && l.holder === 'node-a');
    expect(standby.holder).toBe('node-a');

    const client = new ApiClient(listening.url as string);
    await client.serverInfo;
    const node = await client.result<MatterNodeData>('commission_with_code', {
      code: light.manualPairingCode,
      ip_addr: '127.0.0.1',
      port: light.port,
    });
    client.close();

    await first.kill('SIGKILL');
    const takeover = await second.next((l) => l.event === 'listening');
    const again = new ApiClient(takeover.url as string);
    try {
      await again.serverInfo;
      const nodes = await again.result<MatterNodeData[]>('start_listening');
      expect(nodes.map((n) => n.node_id)).toEqual([node.node_id]);
      expect(
        await again.result('device_command', {
          node_id: node.node_id,
          endpoint_id: 1,
          cluster_id: 6,
          command_name: 'On',
          payload: {},
        }),
      ).toBeNull();
      expect(await light.isOn()).toBe(true);
      // the same pairing: the light is in one fabric, ours
      expect(await light.fabricCount()).toBe(1);
    } finally {
      again.close();
      await second.kill('SIGTERM');
    }
    expect(second.child.exitCode).toBe(0);
  });
});
