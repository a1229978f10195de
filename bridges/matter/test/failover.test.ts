// `sentinel matter-server --nats` on two "nodes" (two processes) and a real nats-server:
// whichever takes the `matter` lock listens; the other waits as a standby without
// listening; when the holder is SIGKILLed, the standby takes the controller over from the
// KV bucket and commands the light that was paired through the first, with no re-pairing,
// and with the Wi-Fi credentials and Thread dataset a client gave the first.
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

/**
 * The leader lease. A holder steps down when it has not renewed for 80 % of it, and while
 * matter.js starts (or commissions) its event loop stalls for up to ~2 s on a loaded 2-core
 * CI machine (measured), so a 1.5 s lease made the new leader abdicate right after it
 * listened. 5 s leaves twice that margin and costs ~3.5 s more to take over after SIGKILL
 * (the default, 15 s, would cost 13 s more).
 */
const LOCK_TTL_MS = 5000;
/** A Wi-Fi passphrase and a Thread dataset: secrets that must reach no log and no diagnostics. */
const PASSPHRASE = 'correct-horse-battery-staple';
const DATASET = '0e080000000000010000000300000f35060004001fffe00208dead00beef00cafe';

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
        String(LOCK_TTL_MS),
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
    lines.push(line);
    for (const waiter of waiters.filter((w) => w.match(line))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(line);
    }
  });
  return {
    nodeId,
    child,
    /** every stdout line so far */
    lines,
    stderr: () => stderr,
    /** the first line from `from` on (printed so far or later) that matches; rejects when the process exits first */
    until(match: (l: Line) => boolean, from = 0): Promise<Line> {
      const found = lines.slice(from).find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        waiters.push({ match, resolve });
        child.once('exit', (code, signal) =>
          reject(new Error(`matter-server ${nodeId} exited (${code ?? signal}): ${stderr}`)),
        );
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
    // both start at once (a start costs seconds under load); the lock picks the first
    const servers = [startServer(nats.url, 'node-a'), startServer(nats.url, 'node-b')];
    const listening = await Promise.race(
      servers.map(async (server) => ({ server, line: await server.until((l) => l.event === 'listening') })),
    );
    const first = listening.server;
    const second = servers.find((s) => s !== first)!;
    await second.until((l) => l.event === 'standby' && l.holder === first.nodeId);
    // a holder that steps down prints standby (and listens again elsewhere): fail with why
    const steppedDown = first
      .until((l) => l.event === 'standby', first.lines.indexOf(listening.line) + 1)
      .then((): never => {
        throw new Error(`${first.nodeId} lost the lock while it should hold it:\n${first.stderr()}`);
      });
    steppedDown.catch(() => {}); // its rejection when SIGKILLed below is no failure

    const client = new ApiClient(listening.line.url as string);
    const node = await Promise.race([
      steppedDown,
      client.serverInfo.then(async () => {
        await client.result('set_wifi_credentials', { ssid: 'sentinel-home', credentials: PASSPHRASE });
        await client.result('set_thread_dataset', { dataset: DATASET });
        return client.result<MatterNodeData>('commission_with_code', {
          code: light.manualPairingCode,
          ip_addr: '127.0.0.1',
          port: light.port,
        });
      }),
    ]);
    client.close();
    // the standby never listened while the first held the lock, and the first held it throughout
    expect(second.lines.filter((l) => l.event === 'listening')).toEqual([]);
    expect(first.lines.filter((l) => l.event === 'listening')).toHaveLength(1);

    await first.kill('SIGKILL');
    const takeover = await second.until((l) => l.event === 'listening');
    const again = new ApiClient(takeover.url as string);
    try {
      // the network credentials came along with the fabric, from the bucket
      expect(await again.serverInfo).toMatchObject({
        wifi_credentials_set: true,
        wifi_ssid: 'sentinel-home',
        thread_credentials_set: true,
      });
      const diagnostics = JSON.stringify(await again.result('diagnostics'), (_k, v) =>
        typeof v === 'bigint' ? String(v) : v,
      );
      expect(diagnostics).toContain('sentinel-home');
      expect(diagnostics).not.toContain(PASSPHRASE);
      expect(diagnostics).not.toContain(DATASET);
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
    // neither process wrote the secrets anywhere it writes to
    for (const server of servers) {
      const output = JSON.stringify(server.lines) + server.stderr();
      expect(output).not.toContain(PASSPHRASE);
      expect(output).not.toContain(DATASET);
    }
  });
});
