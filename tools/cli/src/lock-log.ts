// The leader lock's log for CLI processes without pino (`automations run`, `matter-server`):
// JSON lines on stderr in the shape pino writes, for the subset of methods the lock calls.
import type { LeaderLockOptions } from '@sentinel/gateway';

export function stderrLockLog(bindings: Record<string, unknown> = {}): NonNullable<LeaderLockOptions['log']> {
  const write = (level: string) => (a: unknown, b?: string) => {
    const fields = typeof a === 'string' ? { msg: a } : { ...(a as object), msg: b };
    const err = (fields as { err?: unknown }).err;
    process.stderr.write(
      `${JSON.stringify({ level, time: Date.now(), ...bindings, ...fields, ...(err ? { err: String(err) } : {}) })}\n`,
    );
  };
  const logger = {
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    debug: () => {},
    child: (more: Record<string, unknown>) => stderrLockLog({ ...bindings, ...more }),
  };
  // the lock uses only these methods of its pino logger
  return logger as unknown as NonNullable<LeaderLockOptions['log']>;
}
