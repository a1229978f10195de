// Two private network namespaces joined by a veth pair, for tests that need a real
// multicast-capable link (matter.js sends no mDNS on `lo`). Nothing in them has a route
// off the machine: each namespace holds only its loopback and its end of the veth, with
// addresses from the documentation range (192.0.2.0/24) and a unique-local IPv6 prefix.
//
// Needs root and iproute2's `ip netns`; `netnsSkipReason()` says why not where they are
// missing. Processes started with `spawn` run inside a namespace; `forward` makes a TCP
// port inside one reachable on 127.0.0.1 outside (through a unix socket, which is not
// bound to a network namespace), so the test process itself can talk to a server there.
import { type ChildProcess, execFile, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface Netns {
  readonly name: string;
  /** the veth end inside this namespace */
  readonly iface: string;
  readonly ipv4: string;
  readonly ipv6: string;
  /** runs `command` inside the namespace (`ip netns exec`) */
  spawn(command: string, args: string[], options?: SpawnOptions): ChildProcess;
  /** a 127.0.0.1 TCP `port` inside, reachable at 127.0.0.1:<returned port> outside */
  forward(port: number): Promise<number>;
}

export interface NetnsPair {
  readonly a: Netns;
  readonly b: Netns;
  /** ends what runs inside (SIGKILL), stops forwarding, deletes both namespaces */
  close(): Promise<void>;
}

let created = 0;

/** Why namespaces cannot be made here, or undefined when they can (a real add/delete probe). */
export function netnsSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces are Linux only';
  if (process.getuid?.() !== 0) return 'creating network namespaces needs root';
  const name = `sentinel-probe-${process.pid}`;
  const add = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8' });
  if (add.error) return `iproute2's ip is not installed (${add.error.message})`;
  if (add.status !== 0) return `ip netns add fails here: ${add.stderr.trim()}`;
  spawnSync('ip', ['netns', 'delete', name]);
  return undefined;
}

async function ip(...args: string[]): Promise<void> {
  try {
    await run('ip', args);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`ip ${args.join(' ')}: ${stderr || String(error)}`);
  }
}

/** Resolves once `iface` has an IPv6 link-local address that is no longer tentative. */
async function linkLocalReady(ns: string, iface: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { stdout } = await run('ip', ['-n', ns, '-j', '-6', 'addr', 'show', 'dev', iface, 'scope', 'link']);
    const [link] = JSON.parse(stdout) as Array<{ addr_info?: Array<{ tentative?: boolean }> }>;
    if (link?.addr_info?.some((a) => !a.tentative)) return;
    // the kernel has no event for this that a test can await; DAD is off, so it is quick
    if (Date.now() > deadline)
      throw new Error(`${ns}/${iface}: no usable IPv6 link-local address after 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Deletes namespaces a killed test run left behind (their names carry the run's pid). */
function deleteStale(): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const pid = Number(/^sentinel-.+-(\d+)-\d+-[ab]$/.exec(name)?.[1]);
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch {
      spawnSync('ip', ['netns', 'delete', name]);
    }
  }
}

export async function createNetnsPair(label = 'test'): Promise<NetnsPair> {
  deleteStale();
  const base = `sentinel-${label}-${process.pid}-${++created}`;
  const names = [`${base}-a`, `${base}-b`] as const;
  const children = new Set<ChildProcess>();
  const servers = new Set<Server>();
  const sockets = new Set<Socket>();
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-netns-'));
  const iface = 'veth0';

  const close = async () => {
    for (const child of children) child.kill('SIGKILL');
    await Promise.all(
      [...children].map((c) =>
        c.exitCode !== null || c.signalCode !== null
          ? undefined
          : new Promise((resolve) => c.once('exit', resolve)),
      ),
    );
    for (const socket of sockets) socket.destroy();
    await Promise.all([...servers].map((s) => new Promise((resolve) => s.close(resolve))));
    for (const name of names) spawnSync('ip', ['netns', 'delete', name]);
    rmSync(dir, { recursive: true, force: true });
  };

  const make = (name: string, index: number): Netns => {
    const exec = (command: string, args: string[], options: SpawnOptions = {}) => {
      const child = spawn('ip', ['netns', 'exec', name, command, ...args], options);
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    };
    return {
      name,
      iface,
      ipv4: `192.0.2.${index + 1}`,
      ipv6: `fd00:5e17::${index + 1}`,
      spawn: exec,
      async forward(port) {
        // inside: a unix socket in front of 127.0.0.1:<port>; outside: 127.0.0.1:0 in front of that
        const path = join(dir, `${index}-${port}.sock`);
        const relay = exec(process.execPath, ['--input-type=module', '-e', RELAY, path, String(port)], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        const lines = createInterface({ input: relay.stdout as NodeJS.ReadableStream });
        const [line] = await Promise.race([once(lines, 'line'), once(relay, 'exit').then(() => [])]);
        if (line !== 'ready') throw new Error(`the relay into ${name} did not start`);
        const server = createServer((outside) => {
          const inside = connect(path);
          for (const socket of [outside, inside]) {
            sockets.add(socket);
            socket.once('close', () => sockets.delete(socket));
          }
          outside.pipe(inside).pipe(outside);
          outside.on('error', () => inside.destroy()).on('close', () => inside.destroy());
          inside.on('error', () => outside.destroy()).on('close', () => outside.destroy());
        });
        servers.add(server);
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        return (server.address() as { port: number }).port;
      },
    };
  };

  try {
    for (const name of names) {
      await ip('netns', 'add', name);
      // no duplicate address detection on a link with one peer: addresses are usable at once
      await ip('netns', 'exec', name, 'sh', '-c', DAD_OFF);
      await ip('-n', name, 'link', 'set', 'lo', 'up');
    }
    // both ends are born in their namespaces, so the same name inside each is fine
    await ip(
      'link',
      'add',
      iface,
      'netns',
      names[0],
      'type',
      'veth',
      'peer',
      'name',
      iface,
      'netns',
      names[1],
    );
    const pair = names.map(make) as [Netns, Netns];
    for (const ns of pair) {
      await ip('-n', ns.name, 'addr', 'add', `${ns.ipv4}/24`, 'dev', iface);
      await ip('-n', ns.name, 'addr', 'add', `${ns.ipv6}/64`, 'dev', iface, 'nodad');
      await ip('-n', ns.name, 'link', 'set', iface, 'up');
    }
    await Promise.all(pair.map((ns) => linkLocalReady(ns.name, iface)));
    return { a: pair[0], b: pair[1], close };
  } catch (error) {
    await close();
    throw error;
  }
}

const DAD_OFF =
  'echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad && echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad';

/** Runs inside a namespace: a unix socket at argv[1] relaying to 127.0.0.1:argv[2]. */
const RELAY = `
import { connect, createServer } from 'node:net';
const [path, port] = process.argv.slice(1);
createServer((outer) => {
  const inner = connect(Number(port), '127.0.0.1');
  outer.pipe(inner).pipe(outer);
  outer.on('error', () => inner.destroy()).on('close', () => inner.destroy());
  inner.on('error', () => outer.destroy()).on('close', () => outer.destroy());
}).listen(path, () => console.log('ready'));
`;
