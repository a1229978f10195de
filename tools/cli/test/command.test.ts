// `sentinel command` as a script uses it: the reply of sentinel.cmd.<entity> on stdout,
// and an exit code that says whether the device did it (0 only for {"ok":true}).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entityIdsOf } from '../../../test/support/bus.js';
import { runCli } from '../../../test/support/cli.js';
import { startStack, type TestStack } from '../../../test/support/gateway.js';
import { CONTRACT_HELLO, confirmCommands, connectDevice } from '../../../test/support/picket.js';

let stack: TestStack;
let device: Awaited<ReturnType<typeof connectDevice>>;
let ids: Record<string, string>;

beforeAll(async () => {
  stack = await startStack();
  const token = await stack.gateway.addDevice('cmd-a');
  device = await connectDevice(stack.gateway, 'cmd-a', token);
  await confirmCommands(device, 'cmd-a');
  await device.publishAsync('picket/cmd-a/hello', JSON.stringify(CONTRACT_HELLO), { qos: 1 });
  ids = await entityIdsOf(stack.bus, 'picket-cmd-a');
}, 60_000);

afterAll(async () => {
  await device?.endAsync();
  await stack?.stop();
});

const command = (entity: string, request: string) =>
  runCli(['command', entity, request, '--nats', stack.nats.url]);

describe('sentinel command', () => {
  it('exits 0 when the device confirmed', async () => {
    const relay = ids.relay;
    expect(relay).toBeDefined();
    const result = await command(String(relay), '{"value":true}');
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ ok: true });
    expect(result.stderr).toBe('');
  });

  it('exits 1 for an unknown entity, still printing the reply', async () => {
    const result = await command('0190aaaa-0000-7000-8000-000000000000', '{"value":true}');
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, error: { code: 'invalid' } });
    expect(result.stderr).toMatch(/^sentinel: invalid: .+\n$/);
  });

  it('exits 1 when a sensor is commanded (not_supported)', async () => {
    const result = await command(String(ids.temperature), '{"value":1}');
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, error: { code: 'not_supported' } });
    expect(result.stderr).toMatch(/^sentinel: not_supported: /);
  });
});
