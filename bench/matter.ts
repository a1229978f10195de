// `npm run bench -- matter`: the Matter bridge (`sentinel matter-server`, its own process)
// with simulated matter.js lights on loopback (this process). Commissioning time of each
// light, the round trip of a toggle (device_command answered) and the time to its
// attribute_updated event, and the bridge's RSS with 1 and with --devices paired lights.
// The reference column is what issue 12 reports for matterjs-server, measured on another
// machine: there is no matterjs-server here to run beside ours.
import { createInterface } from 'node:readline';
import { parseMatterJson, stringifyMatterJson } from '@sentinel/matter';
import { type SimulatedMatterDevice, startSimulatedMatterDevice } from '@sentinel/simulators/matter';
import WebSocket from 'ws';
import { LatencyHistogram } from './lib/histogram.js';
import { errorMessage, log } from './lib/log.js';
import { type OptionTable, opt, readBenchOptions } from './lib/options.js';
import { readRssKiB } from './lib/proc.js';
import { installCleanupHandlers, startProcess, stopAll } from './lib/processes.js';
import { formatMs, formatRatio, formatTable, ratioOf } from './lib/report.js';

const OPTIONS = {
  devices: {
    flag: 'devices',
    arg: '<n>',
    env: 'BENCH_MATTER_DEVICES',
    help: 'lights paired for the RSS figure (each is commissioned and timed)',
    schema: opt.int(1, 20),
  },
  toggles: {
    flag: 'toggles',
    arg: '<n>',
    env: 'BENCH_MATTER_TOGGLES',
    help: 'toggles of the first light, one after the other',
    schema: opt.int(10, 200),
  },
} satisfies OptionTable;
const DESCRIPTION =
  'Commissioning time, toggle round trip and time to attribute_updated (p50/p99), bridge RSS with 1 and --devices lights.';

/** Issue 12: matterjs-server with a matter.js light, measured elsewhere (ranges; midpoints for the ratio). */
const REFERENCE = {
  commissionMs: [700, 1300],
  toggleMs: [16, 25],
  eventMs: [71, 87],
  rssMiB: [209, 215],
} as const;

class Api {
  readonly #socket: WebSocket;
  readonly #answers = new Map<string, (m: Record<string, unknown>) => void>();
  readonly #events: Array<(m: Record<string, unknown>) => boolean> = [];
  #next = 0;
  readonly ready: Promise<void>;

  constructor(url: string) {
    this.#socket = new WebSocket(url);
    this.ready = new Promise((resolve, reject) => {
      this.#socket.once('message', () => resolve());
      this.#socket.once('error', reject);
    });
    this.#socket.on('message', (data) => {
      const message = parseMatterJson(data.toString()) as Record<string, unknown>;
      if (typeof message.event === 'string') {
        const i = this.#events.findIndex((match) => match(message));
        if (i >= 0) this.#events.splice(i, 1);
      } else if (typeof message.message_id === 'string') this.#answers.get(message.message_id)?.(message);
    });
  }

  async call(command: string, args: Record<string, unknown> = {}): Promise<unknown> {
    const id = `b${++this.#next}`;
    const answer = new Promise<Record<string, unknown>>((resolve) => this.#answers.set(id, resolve));
    this.#socket.send(stringifyMatterJson({ message_id: id, command, args }));
    const message = await answer;
    this.#answers.delete(id);
    if (message.error_code !== undefined)
      throw new Error(`${command}: ${message.error_code} ${message.details}`);
    return message.result;
  }

  /** resolves at the next event `match` accepts (register before the command that causes it) */
  event(match: (data: unknown) => boolean): Promise<void> {
    return new Promise((resolve) =>
      this.#events.push((m) => {
        if (m.event !== 'attribute_updated' || !match(m.data)) return false;
        resolve();
        return true;
      }),
    );
  }

  close() {
    this.#socket.close();
  }
}

/** the listening line of `sentinel matter-server`; `memory` says how it saved memory */
interface Listening {
  url: string;
  pid?: number;
  memory?: { v8_flags?: string[]; bundle?: boolean; cli_skipped?: boolean };
}

/** the memory options the server reports having chosen, for the report */
function describeMemory(memory: Listening['memory']): string {
  if (!memory) return 'not reported (an older server)';
  const flags = memory.v8_flags?.length ? `V8 ${memory.v8_flags.join(' ')}` : 'V8 defaults';
  const entry = memory.bundle
    ? `the bundled server (tools/cli/dist/matter-server/), ${memory.cli_skipped ? 'without' : 'started from'} the CLI`
    : 'the CLI module graph (no fresh bundle: run `npm run build`)';
  return `${flags}; ${entry}`;
}

const mid = (range: readonly [number, number]) => (range[0] + range[1]) / 2;
const ref = (range: readonly [number, number]) => `${range[0]}–${range[1]}`;
const settle = () => new Promise((resolve) => setTimeout(resolve, 2000));

export async function runMatter(argv: string[]): Promise<number> {
  const options = readBenchOptions('matter', DESCRIPTION, OPTIONS, argv);
  if (typeof options === 'number') return options;
  installCleanupHandlers();
  const devices: SimulatedMatterDevice[] = [];
  let api: Api | undefined;
  try {
    const bridge = startProcess(
      'matter-server',
      process.execPath,
      ['bin/sentinel.js', 'matter-server', '--port', '0', '--loopback-only'],
      { env: process.env },
    );
    const stdout = bridge.process.stdout;
    if (!stdout) throw new Error('matter-server has no stdout');
    const listening = await new Promise<Listening>((resolve, reject) => {
      createInterface({ input: stdout }).on('line', (line) => {
        const parsed = JSON.parse(line) as { event?: string };
        if (parsed.event === 'listening') resolve(parsed as Listening);
      });
      void bridge.exited.then(() => reject(new Error(bridge.failureReason() ?? 'matter-server exited')));
    });
    // the server's own pid from its listening line: the process that holds the bridge
    const pid = listening.pid ?? (bridge.process.pid as number);
    log(`bridge at ${listening.url} (pid ${pid}); starting ${options.devices} simulated lights…`);
    for (let i = 0; i < options.devices; i++) {
      devices.push(
        await startSimulatedMatterDevice({
          type: 'on-off-light',
          passcode: 20202100 + i,
          discriminator: 100 + i,
        }),
      );
    }
    api = new Api(listening.url);
    await api.ready;
    await api.call('start_listening');

    const commission = new LatencyHistogram();
    const nodeIds: unknown[] = [];
    let rssOne = 0;
    for (const [i, device] of devices.entries()) {
      const started = performance.now();
      const node = (await api.call('commission_with_code', {
        code: device.manualPairingCode,
        ip_addr: '127.0.0.1',
        port: device.port,
      })) as { node_id: unknown };
      commission.record(performance.now() - started);
      nodeIds.push(node.node_id);
      if (i === 0) {
        await settle();
        rssOne = (await readRssKiB(pid)) / 1024;
      }
      if ((i + 1) % 5 === 0) log(`${i + 1}/${devices.length} commissioned`);
    }
    await settle();
    const rssAll = (await readRssKiB(pid)) / 1024;

    log(`${options.toggles} toggles of the first light…`);
    const toggle = new LatencyHistogram();
    const toEvent = new LatencyHistogram();
    const first = nodeIds[0];
    let on = await devices[0]?.isOn();
    for (let i = 0; i < options.toggles; i++) {
      on = !on;
      const expected = on;
      const event = api.event(
        (data) => Array.isArray(data) && data[0] === first && data[1] === '1/6/0' && data[2] === expected,
      );
      const started = performance.now();
      await api.call('device_command', {
        node_id: first,
        endpoint_id: 1,
        cluster_id: 6,
        command_name: 'Toggle',
        payload: {},
      });
      toggle.record(performance.now() - started);
      await event;
      toEvent.record(performance.now() - started);
    }

    const rows = [
      ['commission (manual code, known address)', commission, REFERENCE.commissionMs],
      ['toggle: device_command answered', toggle, REFERENCE.toggleMs],
      ['toggle: attribute_updated received', toEvent, REFERENCE.eventMs],
    ] as const;
    process.stdout.write(
      `${formatTable(
        ['measure', 'samples', 'p50 ms', 'p99 ms', 'matterjs-server ms (ref.)', 'p50 ÷ ref.'],
        [
          ...rows.map(([name, h, range]) => [
            name,
            h.size,
            formatMs(h.percentile(50)),
            formatMs(h.percentile(99)),
            ref(range),
            formatRatio(ratioOf(h.percentile(50), mid(range))),
          ]),
        ],
        [false, true, true, true, true, true],
      )}\n\n${formatTable(
        ['bridge RSS', 'MiB', 'matterjs-server MiB (ref., 1 device)', '÷ ref.'],
        [
          [
            '1 paired light',
            rssOne.toFixed(0),
            ref(REFERENCE.rssMiB),
            formatRatio(ratioOf(rssOne, mid(REFERENCE.rssMiB))),
          ],
          // with --devices 1 the second row would repeat the first
          ...(devices.length > 1
            ? [
                [
                  `${devices.length} paired lights`,
                  rssAll.toFixed(0),
                  ref(REFERENCE.rssMiB),
                  formatRatio(ratioOf(rssAll, mid(REFERENCE.rssMiB))),
                ],
              ]
            : []),
        ],
        [false, true, true, true],
      )}\n\nServer options: ${describeMemory(listening.memory)}.\n` +
        `Reference: matterjs-server figures from issue 12, measured on another machine (not in this run); ` +
        'the ratio uses the midpoint of their range. Lights are matter.js devices in the bench process, the bridge ' +
        'is `sentinel matter-server` in its own process, all on loopback.\n',
    );
    return 0;
  } catch (error) {
    process.stderr.write(`bench matter: ${errorMessage(error)}\n`);
    return 1;
  } finally {
    api?.close();
    for (const device of devices) await device.stop().catch(() => {});
    await stopAll();
  }
}
