// `sentinel device rotate`: a new token, printed once; the old token stops working
// and a live connection made with it is closed. Real CLI, real gateway, real MQTT.js.
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { runCli } from '../../../test/support/cli.js';
import { startStack, type TestStack } from '../../../test/support/gateway.js';
import { CONTRACT_HELLO, connectDevice } from '../../../test/support/picket.js';

let stack: TestStack;

beforeAll(async () => {
  stack = await startStack();
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

describe('sentinel device rotate', () => {
  it('prints a new token once, closes live connections made with the old one, and refuses the old token', async () => {
    const { gateway, nats } = stack;
    const oldToken = await gateway.addDevice('rot-a');
    const otherToken = await gateway.addDevice('rot-b');
    const mqttDevice = await connectDevice(gateway, 'rot-a', oldToken);
    const other = await connectDevice(gateway, 'rot-b', otherToken);
    const ws = new WebSocket(`ws://127.0.0.1:${gateway.httpPort}/picket`, {
      headers: { authorization: `Bearer rot-a:${oldToken}` },
    });
    await once(ws, 'open');
    const mqttClosed = new Promise<void>((resolve) => mqttDevice.once('close', () => resolve()));
    const wsClosed = once(ws, 'close');

    const rotated = await runCli(['device', 'rotate', 'rot-a', '--nats', nats.url]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const printed = JSON.parse(rotated.stdout) as { device_id: string; token: string };
    expect(printed.device_id).toBe('picket-rot-a');
    expect(printed.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(printed.token).not.toBe(oldToken);

    // live connections with the old token are closed ...
    await mqttClosed;
    await wsClosed;
    // ... and it no longer connects
    await expect(connectDevice(gateway, 'rot-a', oldToken)).rejects.toMatchObject({ code: 4 });
    const refused = new WebSocket(`ws://127.0.0.1:${gateway.httpPort}/picket`, {
      headers: { authorization: `Bearer rot-a:${oldToken}` },
    });
    const [, response] = (await once(refused, 'unexpected-response')) as [unknown, { statusCode: number }];
    expect(response.statusCode).toBe(401);

    // the new token works; the other device never noticed
    const renewed = await connectDevice(gateway, 'rot-a', printed.token);
    await renewed.publishAsync('picket/rot-a/hello', JSON.stringify(CONTRACT_HELLO), { qos: 1 });
    await renewed.endAsync();
    expect(other.connected).toBe(true);
    await other.publishAsync('picket/rot-b/hello', JSON.stringify(CONTRACT_HELLO), { qos: 1 });
    await other.endAsync();

    // the token is shown only once
    const listed = await runCli(['device', 'list', '--nats', nats.url]);
    expect(listed.stdout).not.toContain(printed.token);
  });

  it('refuses unknown devices (exit 1) and bad ids (exit 2) with one line, changing nothing', async () => {
    const unknown = await runCli(['device', 'rotate', 'never-added', '--nats', stack.nats.url]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim().split('\n')).toHaveLength(1);
    expect(unknown.stderr).toContain('not registered');
    const bad = await runCli(['device', 'rotate', 'Bad Id!', '--nats', stack.nats.url]);
    expect(bad.code).toBe(2);
    const listed = await runCli(['device', 'list', '--nats', stack.nats.url]);
    expect(listed.stdout).not.toContain('never-added');
  });
});
