// `sentinel simulate picket`, driven through commander as the CLI runs it, against
// a real broker. SIGINT is delivered with process.emit, which calls the command's
// own handler exactly as a real signal would, without touching the test runner.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
  type MockInstance,
  vi,
} from 'vitest';
import { registerSimulateCommands } from '../../tools/cli/src/commands/simulate.js';
import { CliError, UsageError } from '../../tools/cli/src/errors.js';
import { startTestBroker, type TestBroker } from './support/mqtt-broker.js';
import { Observed } from './support/wait.js';

// The gateway store is someone else's module (and needs NATS); the command must use
// it exactly like this. Its option table is the real one.
const store = vi.hoisted(() => ({
  opened: [] as unknown[],
  added: [] as string[],
  existing: new Set<string>(),
  closed: 0,
}));
vi.mock('@sentinel/gateway/store', async () => {
  const { GATEWAY_OPTIONS } = await import('../../gateway/src/config.js');
  const { DeviceExistsError } = await import('../../gateway/src/auth/credentials.js');
  return {
    GATEWAY_OPTIONS,
    DeviceExistsError,
    openGatewayStore: async (options: unknown) => {
      store.opened.push(options);
      return {
        addDevice: async (id: string) => {
          if (store.existing.has(id)) throw new DeviceExistsError(`device "${id}" already exists`);
          store.added.push(id);
          return { device_id: `picket-${id}`, token: `token-of-${id}` };
        },
        close: async () => {
          store.closed++;
        },
      };
    },
  };
});

const TOKENS = new Map(['sim-1', 'sim-2', 'lab-1', 'lab-2'].map((id) => [id, `token-of-${id}`]));

function program(): { program: Command; help: () => string } {
  let help = '';
  const root = new Command('sentinel').exitOverride().configureOutput({
    writeOut: (text) => {
      help += text;
    },
    writeErr: (text) => {
      help += text;
    },
  });
  registerSimulateCommands(root);
  for (const command of [root, ...root.commands, ...root.commands.flatMap((c) => c.commands)])
    command.exitOverride();
  return { program: root, help: () => help };
}

const run = (args: string[]) =>
  program().program.parseAsync(['simulate', 'picket', ...args], { from: 'user' });

describe('sentinel simulate picket', () => {
  let dir: string;
  let broker: TestBroker;
  let stderr: Observed<string>;
  let stdout: string[];
  let spies: MockInstance[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sentinel-simulate-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    broker = await startTestBroker(TOKENS);
    stderr = new Observed<string>();
    stdout = [];
    spies = [
      vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
        for (const line of String(chunk).split('\n').filter(Boolean)) stderr.push(line);
        return true;
      }),
      vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
        stdout.push(String(chunk));
        return true;
      }),
    ];
  });
  afterEach(async () => {
    for (const spy of spies) spy.mockRestore();
    await broker.close();
  });

  async function credentialsFile(lines: string[]): Promise<string> {
    const file = join(dir, `creds-${Math.random().toString(36).slice(2)}.jsonl`);
    await writeFile(file, `${lines.join('\n')}\n`);
    return file;
  }
  const line = (id: string, token = `token-of-${id}`) => JSON.stringify({ device_id: `picket-${id}`, token });

  it('--help explains every option', async () => {
    const { program: root, help } = program();
    await expect(root.parseAsync(['simulate', 'picket', '--help'], { from: 'user' })).rejects.toMatchObject({
      exitCode: 0,
    });
    for (const flag of [
      '--gateway <url>',
      '--count <n>',
      '--id-prefix <prefix>',
      '--interval <ms>',
      '--qos <0|1>',
      '--credentials <file>',
      '--register',
      '--nats <url>',
      '--nats-creds <file>',
      '--data <dir>',
      '--ramp-up <ms>',
    ]) {
      expect(help()).toContain(flag);
    }
    expect(help()).toContain('ws://host:8080/picket');
  });

  it('keeps `simulate` a parent command for other simulators', () => {
    const { program: root } = program();
    const simulate = root.commands.find((c) => c.name() === 'simulate')!;
    expect(simulate.commands.map((c) => c.name())).toContain('picket');
  });

  it.each([
    [['--gateway', 'mqtt://127.0.0.1:1', '--count', '2'], /--credentials <file> or --register/],
    [['--gateway', 'http://127.0.0.1:1', '--register', '--count', '1'], /--gateway: .*mqtt:\/\//],
    [
      ['--gateway', 'mqtt://127.0.0.1:1', '--register', '--count', '1', '--qos', '2'],
      /--qos: must be 0 or 1/,
    ],
    [['--gateway', 'mqtt://127.0.0.1:1', '--register', '--count', 'many'], /--count/],
    [['--gateway', 'mqtt://127.0.0.1:1', '--register', '--count', '1', '--interval', '5'], /--interval/],
    [['--gateway', 'mqtt://127.0.0.1:1', '--register'], /--register needs --count/],
    [['--gateway', 'mqtt://127.0.0.1:1', '--register', '--count', '1', '--id-prefix', 'Bad!'], /--id-prefix/],
    [
      ['--gateway', 'mqtt://127.0.0.1:1', '--register', '--credentials', 'x', '--count', '1'],
      /exclude each other/,
    ],
  ])('refuses bad usage: %j', async (args, message) => {
    const error = await run(args).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(message);
  });

  it('refuses a credentials file that lacks a device or has a malformed line', async () => {
    const partial = await credentialsFile([line('sim-1')]);
    await expect(run(['--gateway', broker.url, '--credentials', partial, '--count', '2'])).rejects.toThrow(
      /no token for sim-2 .*sentinel device add sim-2/,
    );
    const malformed = await credentialsFile([line('sim-1'), '{"device_id":"sim-2","token":"x"}']);
    await expect(run(['--gateway', broker.url, '--credentials', malformed])).rejects.toThrow(
      /creds-.*:2: .*must start with "picket-"/,
    );
  });

  it('runs the devices of a credentials file until SIGINT, reporting progress, then stops cleanly', async () => {
    const sigintListeners = process.listenerCount('SIGINT');
    const file = await credentialsFile([line('sim-1'), line('sim-2', 'old'), line('sim-2')]);
    const done = run(['--gateway', broker.url, '--credentials', file, '--count', '2', '--interval', '100']);
    await Promise.all(['sim-1', 'sim-2'].map((id) => broker.ready.first((c) => c === id)));
    await stderr.first((l) => l.includes('2/2 connected'));
    await stderr.first((l) => / [1-9]\d* acked/.test(l));
    process.emit('SIGINT');
    await done;

    expect(stderr.items[0]).toMatch(/2 picket device\(s\) → mqtt:\/\/127\.0\.0\.1:\d+/);
    expect(stderr.items.at(-1)).toMatch(
      /stopped; 0\/2 connected, \d+ readings sent, \d+ acked, 0 commands handled/,
    );
    await Promise.all(['sim-1', 'sim-2'].map((id) => broker.gone.first((c) => c === id)));
    expect(process.listenerCount('SIGINT')).toBe(sigintListeners);
  });

  it('counts commands it handled', async () => {
    const file = await credentialsFile([line('lab-1')]);
    const done = run(['--gateway', broker.url, '--credentials', file, '--interval', '60000']);
    await broker.ready.first((c) => c === 'lab-1');
    await broker.publishes.first((p) => p.topic === 'picket/lab-1/state');
    await broker.publish('picket/lab-1/cmd', JSON.stringify({ cid: 'x', key: 'relay', value: true }));
    await stderr.first((l) => l.includes('1 commands handled'));
    process.emit('SIGTERM');
    await done;
  });

  it('--register adds the devices to the gateway store, prints their credentials and uses them', async () => {
    const done = run([
      '--gateway',
      broker.url,
      '--register',
      '--count',
      '2',
      '--id-prefix',
      'lab',
      '--nats',
      'nats://127.0.0.1:4222',
      '--data',
      join(dir, 'data'),
    ]);
    await Promise.all(['lab-1', 'lab-2'].map((id) => broker.ready.first((c) => c === id)));
    process.emit('SIGINT');
    await done;
    expect(store.opened).toEqual([
      { natsUrl: 'nats://127.0.0.1:4222', natsCreds: undefined, dataDir: join(dir, 'data') },
    ]);
    expect(store.added).toEqual(['lab-1', 'lab-2']);
    expect(store.closed).toBe(1);
    expect(stdout.join('')).toBe(`${line('lab-1')}\n${line('lab-2')}\n`);
  });

  it('--register explains what to do when a device is already registered', async () => {
    store.existing.add('old-1');
    const closedBefore = store.closed;
    const error = await run([
      '--gateway',
      broker.url,
      '--register',
      '--count',
      '1',
      '--id-prefix',
      'old',
    ]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect(error).not.toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(/old-1 is already registered.*--credentials/);
    expect(store.closed).toBe(closedBefore + 1);
  });

  it('says so when the gateway is unreachable, keeps retrying, and still stops cleanly', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const file = await credentialsFile([line('sim-1'), line('sim-2')]);
    const done = run(['--gateway', `mqtt://127.0.0.1:${closedPort}`, '--credentials', file]);
    const complaint = await stderr.first((l) => l.includes('cannot reach the gateway'));
    expect(complaint).toMatch(/ECONNREFUSED.*retrying/);
    process.emit('SIGINT');
    await done;
    // one line for the fleet, not one per device
    expect(stderr.filter((l) => l.includes('cannot reach the gateway'))).toHaveLength(1);
  });
});
