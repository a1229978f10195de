// `sentinel matter pair|list|remove` (the real CLI, bin/sentinel.js) against the bridge
// and a simulated light on loopback: the new node printed as JSON, the server's error and
// exit code 1 on failure, 2 on bad usage.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MatterServer, memoryStorage, startMatterServer } from '../../bridges/matter/src/index.js';
import {
  type SimulatedMatterDevice as SimulatedDevice,
  startSimulatedMatterDevice as startSimulatedDevice,
} from '../../simulators/src/matter/index.js';
import { runCli } from '../../test/support/cli.js';

describe('sentinel matter', () => {
  let bridge: MatterServer;
  let light: SimulatedDevice;
  let nodeId: string;

  beforeAll(async () => {
    [bridge, light] = await Promise.all([
      startMatterServer({
        storage: memoryStorage(),
        loopbackOnly: true,
        apiPort: 0,
        commissionTimeoutMs: 2000,
      }),
      startSimulatedDevice({ type: 'on-off-light' }),
    ]);
  });

  afterAll(async () => {
    await bridge?.close();
    await light?.stop();
  });

  const cli = (...args: string[]) => runCli(['matter', ...args, '--url', bridge.url]);

  it('pair prints the new node: its id, device id, description and entity keys', async () => {
    const result = await cli(
      'pair',
      light.manualPairingCode,
      '--ip',
      light.host ?? '127.0.0.1',
      '--port',
      String(light.port),
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const node = JSON.parse(result.stdout) as Record<string, unknown>;
    nodeId = /"node_id":(\d+)/.exec(result.stdout)?.[1] ?? '';
    expect(node).toMatchObject({
      device_id: `matter-${nodeId}`,
      available: true,
      manufacturer: 'Sentinel Edge',
      entities: ['light-1'],
    });
    expect(await light.fabricCount()).toBe(1);
    const listed = await cli('list');
    expect(listed.code).toBe(0);
    expect(listed.stdout.trim().split('\n')).toHaveLength(1);
    expect(listed.stdout).toContain(`"device_id":"matter-${nodeId}"`);
  });

  it("fails with the server's error and exit code 1", async () => {
    const bad = await cli('pair', '1234');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      /^sentinel: commission_with_code: Invalid setup code.*\(matter server error 8\)\n$/,
    );
    // a device that is not there (nothing listens on the address given)
    const absent = await cli('pair', light.manualPairingCode, '--ip', '127.0.0.1', '--port', '9');
    expect(absent.code).toBe(1);
    expect(absent.stderr).toContain('(matter server error 1)');
    expect(await cli('pair', light.manualPairingCode, '--ip', '127.0.0.1')).toMatchObject({ code: 2 });
    expect(await runCli(['matter', 'list', '--url', 'http://127.0.0.1/'])).toMatchObject({ code: 2 });
  });

  it('remove takes the node off the fabric', async () => {
    const result = await cli('remove', nodeId);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ device_id: `matter-${nodeId}`, removed: true });
    expect(await light.fabricCount()).toBe(0);
    expect((await cli('list')).stdout).toBe('');
    expect((await cli('remove', nodeId)).stderr).toContain('(matter server error 5)');
  });
});
