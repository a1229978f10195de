// What a person and an operator meet when they run `sentinel gateway`: a few lines
// saying where to look and what to do next (stdout keeps only the ready line), a busy
// port named with the option that moves it, log lines with one `pid`, process metrics
// under their usual names, a malformed %-escape answered 400 without an error in the
// log, and the embedded nats-server stopped with the gateway on SIGTERM and SIGINT.
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  type CliGateway,
  isRunning,
  killStrays,
  runCli,
  startLocalGateway,
  survivors,
} from '../../test/support/cli.js';
import { startNats, type TestNats } from '../../test/support/nats.js';

let dir: string;
let nats: TestNats;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sentinel-test-ops-'));
  nats = await startNats();
});
afterAll(async () => {
  killStrays();
  await nats?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Holds a port on 127.0.0.1, as another program would. */
async function holdPort(): Promise<Server & { port: number }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return Object.assign(server, { port: address.port });
}

const jsonLines = (text: string) => text.split('\n').filter((line) => line.startsWith('{'));

describe('a gateway on an external NATS', () => {
  let gw: CliGateway;
  beforeAll(async () => {
    gw = await startLocalGateway(['--nats', nats.url, '--data', join(dir, 'external'), '--node-id', 'ops']);
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('tells a person where to look and what to do next on stderr, and keeps stdout for the ready line', async () => {
    const { http_port, mqtt_port } = gw.ready;
    expect(await gw.said(/web UI/)).toContain(`http://127.0.0.1:${http_port}/`);
    expect(await gw.said(/MQTT/)).toContain(`mqtt://127.0.0.1:${mqtt_port}`);
    expect(await gw.said(/Next/)).toContain('npx sentinel device add <name>');
    // what a person reads is not dressed as a log line
    expect(await gw.said(/running/)).not.toMatch(/^\{/);
  });

  it('answers a malformed percent-escape in a path with 400 and a JSON error, and logs no error', async () => {
    const asked = [
      ['POST', '/api/entities/%E0%A4%A/command'],
      ['GET', '/api/entities/%E0%A4%A/command'],
      ['GET', '/firmware/%zz'],
    ] as const;
    for (const [method, path] of asked) {
      const response = await gw.api(path, {
        method,
        ...(method === 'POST'
          ? { body: '{"value":true}', headers: { 'content-type': 'application/json' } }
          : {}),
      });
      expect(response.status, `${method} ${path}`).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(JSON.stringify(await response.json())).toContain(path.split('/').pop());
    }
    const metrics = await (await gw.api('/metrics')).text();
    expect(metrics).toMatch(/^sentinel_http_refused_total\{code="bad_request"\} 3$/m);
    // an answer given after the requests: every log line they caused is written by then
    const errors = jsonLines(gw.stderr())
      .map((line) => JSON.parse(line) as { level: number; msg: string })
      .filter((line) => line.level >= 50);
    expect(errors).toEqual([]);
  });

  it('exports process metrics under their usual Prometheus names, without a doubled "process"', async () => {
    const metrics = await (await gw.api('/metrics')).text();
    expect(metrics).not.toContain('process_process');
    expect(metrics).toMatch(/^process_cpu_seconds_total \d/m);
    expect(metrics).toMatch(/^process_resident_memory_bytes \d/m);
    expect(metrics).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    expect(metrics).toMatch(/^# TYPE sentinel_readings_total counter$/m);
  });
});

describe('a gateway with its embedded nats-server', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const)
    it(`logs one pid per line, and stops its nats-server on ${signal}`, { timeout: 60_000 }, async () => {
      const data = join(dir, `embedded-${signal}`);
      const gw = await startLocalGateway(['--nats-port', '0', '--data', data]);
      // whatever fails below, the server it started does not outlive the test
      onTestFinished(async () => {
        const pid = Number(await readFile(join(data, 'nats', 'nats-server.pid'), 'utf8').catch(() => ''));
        if (pid > 0 && isRunning(pid)) process.kill(pid, 'SIGKILL');
      });
      const started = await gw.logged((line) => line.msg === 'embedded nats-server ready');
      const natsPid = started.nats_pid;
      if (typeof natsPid !== 'number') throw new Error(`no nats_pid in ${JSON.stringify(started)}`);
      // the raw text: JSON.parse keeps only the last of two equal keys
      const first = jsonLines(gw.stderr()).find((line) => line.includes('embedded nats-server ready')) ?? '';
      expect(first.match(/"pid":/g)).toHaveLength(1);
      expect(JSON.parse(first)).toMatchObject({ pid: gw.process.pid, nats_pid: natsPid });

      const exited = once(gw.process, 'exit');
      gw.process.kill(signal);
      const [code] = await exited;
      expect(code).toBe(0);
      expect(await survivors([natsPid], 5000)).toEqual([]);
      for (const line of jsonLines(gw.stderr())) expect(line.match(/"pid":/g) ?? []).toHaveLength(1);
    });
});

describe('a port in use', () => {
  const cases = [
    { option: '--mqtt-port', env: 'SENTINEL_MQTT_PORT', what: 'MQTT port', nats: true },
    { option: '--http-port', env: 'SENTINEL_HTTP_PORT', what: 'HTTP port', nats: true },
    { option: '--nats-port', env: 'SENTINEL_NATS_PORT', what: "nats-server's port", nats: false },
    { option: '--mqtt-tls-port', env: 'SENTINEL_MQTT_TLS_PORT', what: 'MQTT over TLS port', nats: true },
  ];
  for (const { option, env, what, nats: external } of cases)
    it(`fails with exit code 1 and one line naming ${option} and ${env}`, async () => {
      const held = await holdPort();
      try {
        const data = join(dir, `busy-${option.slice(2)}`);
        const ports = ['--mqtt-port', '0', '--http-port', '0'];
        const args = [
          'gateway',
          '--host',
          '127.0.0.1',
          '--data',
          data,
          // every other port free
          ...ports.filter((_a, i) => ports[i] !== option && ports[i - 1] !== option),
          ...(external ? ['--nats', nats.url] : []),
          ...(option === '--mqtt-tls-port' ? ['--tls', 'auto'] : []),
        ];
        const byFlag = await runCli([...args, option, String(held.port)]);
        const byEnv = await runCli(args, { [env]: String(held.port) });
        for (const result of [byFlag, byEnv]) {
          expect(result.code).toBe(1);
          const lines = result.stderr.trim().split('\n');
          expect(lines, result.stderr).toHaveLength(1);
          expect(lines[0]).toContain(`${what} ${held.port} is in use`);
          expect(lines[0]).toContain(`${option} / ${env}`);
          expect(lines[0]).not.toMatch(/\n\s+at |verbose/);
          expect(result.stdout).toBe('');
        }
      } finally {
        held.close();
      }
    });
});
