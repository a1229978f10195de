// Evaluates a bundled automation module (CommonJS, from the loader) in a fresh V8
// context that has no `require`, `process`, timers or network: what it can do goes
// through the context the runtime hands its run. No esbuild here: sandbox workers
// import this and never compile. Containment against mistakes, not a security boundary
// (see docs/automations.md).
import { runInNewContext } from 'node:vm';

/** module evaluation must not hang the runtime: a top-level endless loop is cut off */
export const LOAD_TIMEOUT_MS = 1000;

export class AutomationLoadError extends Error {
  override name = 'AutomationLoadError';
}

/** The module's default export, not yet validated. */
export function evaluateAutomation(
  code: string,
  file: string,
  log: (line: string) => void,
  timeoutMs = LOAD_TIMEOUT_MS,
): unknown {
  const module = { exports: {} as Record<string, unknown> };
  const console = { log: (...args: unknown[]) => log(args.map(String).join(' ')) };
  try {
    runInNewContext(
      code,
      { module, exports: module.exports, console },
      { filename: file, timeout: timeoutMs },
    );
  } catch (error) {
    throw new AutomationLoadError(`throws at load: ${(error as Error)?.message ?? String(error)}`);
  }
  const exported = module.exports.default;
  if (exported === undefined)
    throw new AutomationLoadError('has no default export (export default defineAutomation({...}))');
  return exported;
}
