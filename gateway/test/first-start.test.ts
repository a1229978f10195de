// First start: nobody can log in, so the gateway makes the admin account pending
// onboarding and prints a one-time link, on the ready line and for the person at
// the terminal, never in its JSON log. Each start until a password is set prints a
// fresh link (the previous one stops working); afterwards nothing is printed.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type CliGateway, killStrays, startLocalGateway } from '../../test/support/cli.js';
import { startNats, type TestNats } from '../../test/support/nats.js';

let nats: TestNats;
let dataDir: string;
beforeAll(async () => {
  nats = await startNats();
  dataDir = await mkdtemp(join(tmpdir(), 'sentinel-test-first-'));
});
afterAll(async () => {
  killStrays();
  await nats?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

const start = () => startLocalGateway(['--nats', nats.url, '--data', dataDir, '--node-id', 'first']);
const tokenOf = (url: string) => url.split('#')[1]!;
const base = (gw: CliGateway) => `http://127.0.0.1:${gw.ready.http_port}`;
const jsonLines = (text: string) => text.split('\n').filter((line) => line.startsWith('{'));

it('prints a one-time admin link until someone sets a password, fresh at each start', async () => {
  const first = await start();
  const url = first.ready.onboarding_url!;
  expect(url).toMatch(new RegExp(`^http://localhost:${first.ready.http_port}/onboarding#[\\w-]{43}$`));
  // for the person at the terminal, in plain words; not in any JSON log line
  expect(await first.said(/onboarding#/)).toContain(url);
  const check = await fetch(`${base(first)}/api/onboarding/${tokenOf(url)}`);
  expect(await check.json()).toEqual({ user: 'admin', role: 'admin' });
  expect((await first.stop()).code).toBe(0);
  for (const line of jsonLines(first.stderr())) expect(line).not.toContain(tokenOf(url));

  const second = await start();
  const fresh = second.ready.onboarding_url!;
  expect(fresh).toMatch(/\/onboarding#[\w-]{43}$/);
  expect(tokenOf(fresh)).not.toBe(tokenOf(url));
  // the old link stopped working
  const old = await fetch(`${base(second)}/api/onboarding/${tokenOf(url)}`);
  expect(old.status).toBe(410);
  const done = await fetch(`${base(second)}/api/onboarding`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: base(second) },
    body: JSON.stringify({ token: tokenOf(fresh), password: 'correct horse battery' }),
  });
  expect(done.status).toBe(200);
  expect(await done.json()).toEqual({ user: 'admin', role: 'admin' });
  expect((await second.stop()).code).toBe(0);

  // a password is set: no link any more, and the admin logs in
  const third = await start();
  expect(third.ready.onboarding_url).toBeUndefined();
  // the link would follow the welcome lines, written at the same moment
  await third.said(/running/);
  expect(third.stderr()).not.toMatch(/onboarding#/);
  const login = await fetch(`${base(third)}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: base(third) },
    body: JSON.stringify({ user: 'admin', password: 'correct horse battery' }),
  });
  expect(login.status).toBe(200);
  expect(login.headers.get('set-cookie')).toMatch(/^sentinel_session=/);
  // without credentials, the API answers 401
  expect((await fetch(`${base(third)}/api/entities`)).status).toBe(401);
  expect((await fetch(`${base(third)}/status`)).status).toBe(401);
  expect((await third.stop()).code).toBe(0);
}, 60_000);
