// `sentinel automations types` against a real gateway's registry, then the project's
// TypeScript compiler (TypeScript 7, the native tsc) on a good and a bad automation.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { type Bench, startBench } from '../../../examples/automations/test/support.js';
import { registerAutomationsTypesCommand } from '../src/commands/automations-types.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TSC = join(ROOT, 'node_modules/.bin/tsc');

let bench: Bench;
let dir: string;
beforeAll(async () => {
  bench = await startBench(
    [
      { key: 'chamber', name: 'Smoker chamber', platform: 'sensor', unit: '°C', initial: 110 },
      { key: 'fan', name: 'Coop fan', platform: 'switch', initial: false },
      { key: 'target', name: 'Pan target', platform: 'number', unit: '°C', initial: 110 },
    ],
    Date.UTC(2025, 6, 4, 9),
  );
  dir = await mkdtemp(join(tmpdir(), 'sentinel-types-'));
  // the automations' project resolves @sentinel/automations as an installed package (its dist types)
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  await writeFile(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2023',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ['node'],
      },
      include: ['*.ts'],
    }),
  );
});
afterAll(async () => {
  await bench?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** runs `sentinel automations <args>` in this process; resolves with what it wrote */
async function sentinel(args: string[]) {
  const program = new Command('sentinel').exitOverride();
  registerAutomationsTypesCommand(program.command('automations'));
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += chunk;
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += chunk;
    return true;
  });
  try {
    await program.parseAsync(['automations', ...args], { from: 'user' });
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return { stdout, stderr };
}

const tsc = () => {
  const result = spawnSync(TSC, ['-p', join(dir, 'tsconfig.json')], { cwd: dir, encoding: 'utf8' });
  return { code: result.status, errors: result.stdout.trim().split('\n').filter(Boolean) };
};

const GOOD = `import { defineAutomation } from '@sentinel/automations';
export default defineAutomation({
  id: 'good',
  triggers: [{ kind: 'threshold', entity: 'Smoker chamber', above: 120 }],
  run: async (ctx) => {
    const chamber = ctx.state('Smoker chamber');
    if (typeof chamber === 'number') await ctx.command('Pan target', chamber - 10);
    await ctx.command('Coop fan', true);
  },
});
`;
const BAD = `import { defineAutomation } from '@sentinel/automations';
export default defineAutomation({
  id: 'bad',
  triggers: [{ kind: 'threshold', entity: 'Smoker chambr', above: 120 }],
  run: async (ctx) => {
    await ctx.command('Coop fna', true);
    await ctx.command('Pan target', 'hot');
    await ctx.command('Smoker chamber', 100);
  },
});
`;

it('writes the registry as a declaration that makes tsc refuse a missing entity and a wrong value', async () => {
  await writeFile(join(dir, 'good.ts'), GOOD);
  await writeFile(join(dir, 'bad.ts'), BAD);
  // without the declaration every name and value is accepted: nothing to catch a typo
  expect(tsc()).toEqual({ code: 0, errors: [] });

  const out = join(dir, 'sentinel-entities.d.ts');
  const { stderr } = await sentinel(['types', '--nats', bench.stack.nats.url, '--out', out]);
  expect(stderr).toContain(`wrote 3 entities to ${out}`);
  const declaration = await readFile(out, 'utf8');
  expect(declaration).toContain(
    `${JSON.stringify(bench.ids['Pan target'])}: { name: "Pan target"; platform: "number"; unit: "°C"; state: number; command: number; actions: never };`,
  );

  const { code, errors } = tsc();
  expect(errors).toEqual([
    `bad.ts(4,35): error TS2820: Type '"Smoker chambr"' is not assignable to type 'EntityKey'. Did you mean '"Smoker chamber"'?`,
    `bad.ts(6,23): error TS2345: Argument of type '"Coop fna"' is not assignable to parameter of type 'EntityRef'.`,
    `bad.ts(7,37): error TS2345: Argument of type 'string' is not assignable to parameter of type 'number'.`,
    `bad.ts(8,41): error TS2345: Argument of type '100' is not assignable to parameter of type 'never'.`,
  ]);
  expect(code).not.toBe(0);
});

it('prints to stdout without --out, with the entities by id and by name', async () => {
  const { stdout } = await sentinel(['types', '--nats', bench.stack.nats.url]);
  expect(stdout).toMatch(
    /^\/\/ Generated by `sentinel automations types` from sentinel_entities \(3 entities\)/,
  );
  for (const [name, id] of Object.entries(bench.ids))
    expect(stdout).toContain(`${JSON.stringify(id)}: { name: ${JSON.stringify(name)};`);
});
