// What the cluster parts do with bad input: lock settings that cannot work, junk
// written into sentinel_locks and sentinel_nodes by someone else, bad forwarded
// commands, and a device whose record names a node nobody has heard of. Each gets
// a specific answer; the node carries on.
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startLocalGateway } from '../../test/support/cli.js';
import { type NodeStatus, until } from '../../test/support/cluster.js';
import { startStack, type TestStack } from '../../test/support/gateway.js';
import { startNats } from '../../test/support/nats.js';

let stack: TestStack;
const status = async () => (await (await stack.gateway.api('/status')).json()) as NodeStatus;

beforeAll(async () => {
  stack = await startStack({ nodeId: 'solo', lockTtlMs: 3000, lockHeartbeatMs: 1000, lockGraceMs: 1000 });
});

afterAll(async () => {
  await stack?.stop();
});

describe('cluster bad input', () => {
  it('refuses lock settings that cannot renew in time, naming the flag (exit 2)', async () => {
    const result = await runCli(['gateway', '--lock-ttl', '3000', '--lock-heartbeat', '2000']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/--lock-heartbeat: .*too long for a 3000 ms TTL/);
  });

  it('stops on SIGTERM within 5 s while its NATS is away: it does not wait to release its locks', async () => {
    const nats = await startNats();
    const node = await startLocalGateway([
      '--nats',
      nats.url,
      '--node-id',
      'cut-off',
      '--data',
      nats.storeDir,
    ]);
    await until(async () => {
      const view = (await (await node.api('/status')).json()) as NodeStatus;
      return view.leading.includes('registry') || undefined;
    });
    await nats.kill();
    const stopped = await node.stop();
    expect(stopped.ms).toBeLessThan(5000);
    await nats.stop();
  });

  it('shows junk in sentinel_locks as no leader, and keeps its own leadership', async () => {
    const locks = await new Kvm(stack.bus).open('sentinel_locks');
    await locks.put('matter', 'not json');
    await locks.put('ota', JSON.stringify({ node_id: 7 }));
    const view = await status();
    expect(view.leaders.matter).toBeNull();
    expect(view.leaders.ota).toBeNull();
    expect(view.leaders.registry?.node_id).toBe('solo');
    expect(view.leading).toContain('registry');
  });

  it('ignores junk in sentinel_nodes', async () => {
    const nodes = await new Kvm(stack.bus).open('sentinel_nodes');
    await nodes.put('ghost', '{"no":"node id"}');
    await nodes.put('garbage', 'xx');
    // a well-formed record under another key must not make a node out of that key
    await nodes.put('impostor', JSON.stringify({ node_id: 'solo', started: 1, ts: Date.now() }));
    // a real record written after the junk: once the node knows it, it has seen the junk too
    await nodes.put('witness', JSON.stringify({ node_id: 'witness', started: 1, ts: Date.now() }));
    const view = await until(async () => {
      const v = await status();
      return v.nodes.some((n) => n.node_id === 'witness') ? v : undefined;
    });
    expect(view.nodes.map((n) => n.node_id).sort()).toEqual(['solo', 'witness']);
    await nodes.delete('witness');
  });

  it('answers a bad forwarded command with the contract error, and carries on', async () => {
    const ask = async (entity: string, body: string) =>
      (await stack.bus.request(`sentinel.node.solo.cmd.${entity}`, body, { timeout: 5000 })).json();
    expect(await ask('0190-unknown', 'not json')).toMatchObject({ ok: false, error: { code: 'invalid' } });
    expect(await ask('0190-unknown', '{"value":true}')).toMatchObject({
      ok: false,
      error: { code: 'invalid', message: expect.stringMatching(/unknown entity/) },
    });
    expect(await ask('0190-unknown', '{"action":1}')).toMatchObject({
      ok: false,
      error: { code: 'invalid' },
    });
    expect((await status()).node_id).toBe('solo');
  });

  it('does not forward a command to a node nobody has heard of: the device counts as unavailable', async () => {
    const kvm = new Kvm(stack.bus);
    const devices = await kvm.open('sentinel_devices');
    const entities = await kvm.open('sentinel_entities');
    await devices.put(
      'picket-ghosted',
      JSON.stringify({
        id: 'picket-ghosted',
        protocol: 'picket',
        name: 'ghosted',
        online: true,
        last_seen: Date.now(),
        node_id: 'ghost',
      }),
    );
    const id = '01900000-0000-7000-8000-00000000beef';
    await entities.put(
      id,
      JSON.stringify({
        id,
        name: 'Ghosted relay',
        platform: 'switch',
        device_id: 'picket-ghosted',
        bindings: [{ protocol: 'picket', device_id: 'picket-ghosted', key: 'relay', priority: 100 }],
      }),
    );
    // through the contract subject: the registry knows the entity, no live node holds its device
    let reply: unknown;
    for (let attempt = 0; attempt < 50; attempt++) {
      reply = (await stack.bus.request(`sentinel.cmd.${id}`, '{"value":true}', { timeout: 5000 })).json();
      if ((reply as { error?: { code?: string } }).error?.code !== 'invalid') break; // the mirror caught up
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // answered here, not sent to sentinel.node.ghost.cmd.… to wait for nobody
    expect(reply).toMatchObject({
      ok: false,
      error: { code: 'unavailable', message: 'no device of Ghosted relay is online' },
    });
  });
});
