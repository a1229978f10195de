// Benchmark options: one table drives parsing, validation, environment names
// and --help. Precedence: defaults < environment (BENCH_*) < flags.
import { parseArgs } from 'node:util';
import { z } from 'zod';

export interface OptionSpec<S extends z.ZodType = z.ZodType> {
  /** the flag without dashes, e.g. `devices` for `--devices <n>` */
  flag: string;
  /** shown in --help after the flag, e.g. `<n>`; absent for boolean switches */
  arg?: string;
  env: string;
  help: string;
  schema: S;
}

export type OptionTable = Record<string, OptionSpec>;
export type OptionValues<T extends OptionTable> = { [K in keyof T]: z.output<T[K]['schema']> };

/** Wrong flags or values: print the message and the usage, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseOptions<T extends OptionTable>(
  table: T,
  argv: string[],
  env: NodeJS.ProcessEnv,
): OptionValues<T> | 'help' {
  const parseSpec: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const spec of Object.values(table)) parseSpec[spec.flag] = { type: spec.arg ? 'string' : 'boolean' };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options: parseSpec, strict: true, allowPositionals: false });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (parsed.values.help) return 'help';
  const result: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(table)) {
    const fromFlag = parsed.values[spec.flag];
    const raw = fromFlag ?? env[spec.env];
    const outcome = spec.schema.safeParse(raw === '' ? undefined : raw);
    if (!outcome.success) {
      const source = fromFlag !== undefined ? `--${spec.flag}` : spec.env;
      throw new UsageError(`${source}: ${outcome.error.issues[0]?.message ?? 'invalid value'}`);
    }
    result[key] = outcome.data;
  }
  return result as OptionValues<T>;
}

export function formatHelp(usage: string, description: string, table: OptionTable): string {
  const rows = Object.values(table).map((spec) => {
    const left = `  --${spec.flag}${spec.arg ? ` ${spec.arg}` : ''}`;
    const fallback = spec.schema.safeParse(undefined);
    const shown =
      fallback.success && fallback.data !== undefined && fallback.data !== false
        ? ` (default: ${formatDefault(fallback.data)})`
        : '';
    return { left, right: `${spec.help}${shown} [${spec.env}]` };
  });
  rows.push({ left: '  --help', right: 'show this help' });
  const width = Math.max(...rows.map((row) => row.left.length)) + 2;
  return `usage: ${usage}\n\n${description}\n\noptions:\n${rows.map((row) => row.left.padEnd(width) + row.right).join('\n')}\n`;
}

function formatDefault(value: unknown): string {
  return Array.isArray(value) ? value.join(',') : String(value);
}

/** Schemas for common kinds of option values. */
export const opt = {
  int: (min: number, fallback: number) => z.coerce.number().int().min(min).default(fallback),
  number: (min: number, fallback: number) => z.coerce.number().min(min).default(fallback),
  flag: () =>
    z
      .union([z.boolean(), z.enum(['1', '0', 'true', 'false'])])
      .default(false)
      .transform((value) => value === true || value === '1' || value === 'true'),
  list: <E extends string>(values: readonly [E, ...E[]], fallback: E[]) =>
    z
      .string()
      .default(fallback.join(','))
      .transform((text) =>
        text
          .split(',')
          .map((item) => item.trim())
          .filter(Boolean),
      )
      .pipe(z.array(z.enum(values)).min(1)),
  string: (fallback: string) => z.string().min(1).default(fallback),
};

/**
 * A bench's options from its flags and environment, or the exit code when there is nothing
 * to run: 0 after printing --help, 2 after a usage error (one line on stderr).
 */
export function readBenchOptions<T extends OptionTable>(
  bench: string,
  description: string,
  table: T,
  argv: string[],
): OptionValues<T> | number {
  try {
    const parsed = parseOptions(table, argv, process.env);
    if (parsed !== 'help') return parsed;
    process.stdout.write(formatHelp(`npm run bench -- ${bench} [options]`, description, table));
    return 0;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`bench ${bench}: ${error.message} (run with --help for usage)\n`);
    return 2;
  }
}
