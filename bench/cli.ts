// `npm run bench -- cli`: how quickly `sentinel` answers. Wall time (spawn to exit)
// and peak RSS of `sentinel --help` and `sentinel device list` (against a real
// nats-server with a few devices), median of --runs, beside `node -e 0`: the floor
// any Node command starts from. Goal (issue "Ship it"): --help ≤ 150 ms, ≤ 60 MB.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorMessage, log } from './lib/log.js';
import { type OptionTable, opt, readBenchOptions } from './lib/options.js';
import { installCleanupHandlers, REPO_ROOT, stopAll } from './lib/processes.js';
import { formatMs, formatRatio, formatTable, median, ratioOf } from './lib/report.js';
import { startNatsServer } from './lib/targets.js';

const OPTIONS = {
  runs: {
    flag: 'runs',
    arg: '<n>',
    env: 'BENCH_CLI_RUNS',
    help: 'runs of each command (the median is reported)',
    schema: opt.int(1, 10),
  },
  verbose: {
    flag: 'verbose',
    env: 'BENCH_VERBOSE',
    help: 'pass the nats-server output through',
    schema: opt.flag(),
  },
} satisfies OptionTable;
const DESCRIPTION =
  'Wall time and peak RSS of `sentinel --help` and `sentinel device list` (median of --runs), beside `node -e 0`.';

const SENTINEL = fileURLToPath(new URL('../bin/sentinel.js', import.meta.url));

interface Sample {
  wallMs: number;
  rssMiB: number;
}

/**
 * Runs `node <args>` once. Peak RSS comes from the child itself: a preloaded module
 * writes process.resourceUsage().maxRSS to a file as the process exits (Node offers
 * no rusage of a child), which costs well under a millisecond.
 */
async function runOnce(args: string[], env: NodeJS.ProcessEnv, probe: string, out: string): Promise<Sample> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--require', probe, ...args], {
    cwd: REPO_ROOT,
    env: { ...env, BENCH_MAXRSS_FILE: out },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const wallMs = performance.now() - started;
  if (code !== 0)
    throw new Error(`node ${args.join(' ')} exited ${code}: ${stderr.trim().split('\n').at(-1)}`);
  const rssKiB = Number(await readFile(out, 'utf8'));
  return { wallMs, rssMiB: rssKiB / 1024 };
}

export async function runCli(argv: string[]): Promise<number> {
  const options = readBenchOptions('cli', DESCRIPTION, OPTIONS, argv);
  if (typeof options === 'number') return options;
  installCleanupHandlers();
  const dir = await mkdtemp(join(tmpdir(), 'sentinel-bench-cli-'));
  try {
    const probe = join(dir, 'maxrss.cjs');
    await writeFile(
      probe,
      "process.on('exit', () => require('node:fs').writeFileSync(process.env.BENCH_MAXRSS_FILE, String(process.resourceUsage().maxRSS)));\n",
    );
    await mkdir(join(dir, 'nats'));
    const nats = await startNatsServer(join(dir, 'nats'), options.verbose);
    const env = { ...process.env, SENTINEL_NATS_URL: nats.url };
    log('registering 5 devices for `device list`…');
    await runOnce(
      [SENTINEL, 'device', 'add', 'bench-a', 'bench-b', 'bench-c', 'bench-d', 'bench-e'],
      env,
      probe,
      join(dir, 'rss'),
    );

    const commands: Array<[string, string[]]> = [
      ['node -e 0 (the floor)', ['-e', '0']],
      ['sentinel --help', [SENTINEL, '--help']],
      ['sentinel device list', [SENTINEL, 'device', 'list']],
    ];
    const results: Array<{ name: string; wallMs: number; rssMiB: number }> = [];
    for (const [name, args] of commands) {
      log(`${name}: ${options.runs} runs…`);
      await runOnce(args, env, probe, join(dir, 'rss')); // warm the file cache, not counted
      const samples: Sample[] = [];
      for (let i = 0; i < options.runs; i++) samples.push(await runOnce(args, env, probe, join(dir, 'rss')));
      results.push({
        name,
        wallMs: median(samples.map((s) => s.wallMs))!,
        rssMiB: median(samples.map((s) => s.rssMiB))!,
      });
    }
    const floor = results[0];
    process.stdout.write(
      `${formatTable(
        ['command', 'wall ms (median)', 'peak RSS MiB (median)', 'wall ÷ node -e 0', 'RSS ÷ node -e 0'],
        results.map((r) => [
          r.name,
          formatMs(r.wallMs),
          r.rssMiB.toFixed(1),
          formatRatio(ratioOf(r.wallMs, floor?.wallMs)),
          formatRatio(ratioOf(r.rssMiB, floor?.rssMiB)),
        ]),
        [false, true, true, true, true],
      )}\n`,
    );
    return 0;
  } catch (error) {
    process.stderr.write(`bench cli: ${errorMessage(error)}\n`);
    return 1;
  } finally {
    await stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}
