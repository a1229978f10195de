// `npm run demo` as a newcomer meets it: a gateway with three simulated devices,
// the addresses to look at, and a clean stop on Ctrl-C.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { collect, connectTestBus } from '../../../test/support/bus.js';
import { killStrays, runCli, SENTINEL_BIN, track } from '../../../test/support/cli.js';
import { startNats } from '../../../test/support/nats.js';

it('runs a gateway with three devices online, prints where to look, and stops on SIGINT', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'sentinel-demo-'));
  const args = [
    'demo',
    '--data',
    dataDir,
    '--nats-port',
    '0',
    '--mqtt-port',
    '0',
    '--http-port',
    '0',
    '--host',
    '127.0.0.1',
  ];
  const child = track(
    spawn(process.execPath, [SENTINEL_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  try {
    let out = '';
    const printed = new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('Ctrl-C')) resolve(out);
      });
      child.once('exit', (code) => reject(new Error(`demo exited ${code}`)));
    });
    const text = await printed;
    const ui = /web UI\s+(http:\/\/\S+)/.exec(text)?.[1];
    expect(ui).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const natsUrl = /NATS\s+(nats:\/\/127\.0\.0\.1:\d+)/.exec(text)?.[1];
    expect(natsUrl).toBeDefined();
    // the devices come up on their own: a reading from each of them
    // the embedded server is locked: the demo names where its credentials are
    const accounts = /NATS accounts\s+(\S+)/.exec(text)?.[1];
    expect(accounts).toBe(join(dataDir, 'nats-auth'));
    const bus = await connectTestBus(natsUrl!, join(accounts!, 'creds', 'automations.creds'));
    const readings = await collect<{ source: { device_id: string } }>(bus, 'sentinel.state.>');
    for (const id of ['picket-demo-kitchen', 'picket-demo-hall', 'picket-demo-porch']) {
      await readings.next((r) => r.source.device_id === id, 20_000);
    }
    await bus.close();
    // the one-time link sets the admin password and logs in; the status (what the web UI shows) agrees
    const link = /first log-in\s+(http:\/\/\S+)/.exec(text)?.[1];
    expect(link).toMatch(/\/onboarding#[\w-]{43}$/);
    const onboarded = await fetch(new URL('/api/onboarding', ui), {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: new URL(ui!).origin },
      body: JSON.stringify({ token: link!.split('#')[1], password: 'demo password 1' }),
    });
    expect(onboarded.status).toBe(200);
    const cookie = /sentinel_session=[^;]+/.exec(onboarded.headers.get('set-cookie') ?? '')?.[0] ?? '';
    expect((await fetch(new URL('/status', ui))).status).toBe(401);
    expect(await (await fetch(new URL('/status', ui), { headers: { cookie } })).json()).toMatchObject({
      devices: 3,
      devices_online: 3,
      entities: 9,
    });
    child.kill('SIGINT');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  } finally {
    killStrays();
    await rm(dataDir, { recursive: true, force: true });
  }
}, 60_000);

it('leaves nothing behind: no ./data, its throwaway store deleted, its devices removed', async () => {
  // where a person runs `npm run demo`: the demo must not create ./data there
  const cwd = await mkdtemp(join(tmpdir(), 'sentinel-demo-cwd-'));
  const nats = await startNats();
  const child = track(
    spawn(
      process.execPath,
      [
        SENTINEL_BIN,
        'demo',
        '--nats',
        nats.url,
        '--mqtt-port',
        '0',
        '--http-port',
        '0',
        '--host',
        '127.0.0.1',
      ],
      { cwd, stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  );
  try {
    let out = '';
    const text = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('Ctrl-C')) resolve(out);
      });
      child.once('exit', (code) => reject(new Error(`demo exited ${code}`)));
    });
    const data = /data\s+(\S+)\s+\(throwaway/.exec(text)?.[1];
    expect(data).toBeDefined();
    expect((await stat(String(data))).isDirectory()).toBe(true);
    const listed = await runCli(['device', 'list', '--nats', nats.url]);
    expect(listed.stdout).toContain('picket-demo-porch');

    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(await readdir(cwd)).toEqual([]);
    await expect(stat(String(data))).rejects.toMatchObject({ code: 'ENOENT' });
    const after = await runCli(['device', 'list', '--nats', nats.url]);
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).not.toMatch(/demo-/);
  } finally {
    killStrays();
    await nats.stop();
    await rm(cwd, { recursive: true, force: true });
  }
}, 60_000);
