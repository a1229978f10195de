// Compiles an automation file (TypeScript, with its relative imports) in memory with
// esbuild and evaluates it in a fresh V8 context that has no `require`, `process` or
// timers: what it can do goes through the context the runtime hands its run.
// This is containment against mistakes, not a security boundary (see docs/automations.md).
import { basename } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { AutomationLoadError, evaluateAutomation } from './evaluate.js';

export { AutomationLoadError };

const SDK = '@sentinel/automations';
/** the SDK as an automation sees it at run time: defineAutomation is an identity */
const SDK_SHIM = 'export function defineAutomation(definition) { return definition; }';

const contained: Plugin = {
  name: 'sentinel-automation',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path === SDK || args.path === `${SDK}/sdk`) return { path: SDK, namespace: 'sentinel-sdk' };
      return {
        errors: [
          { text: `automations may import only ${SDK} and their own relative files, not "${args.path}"` },
        ],
      };
    });
    b.onLoad({ filter: /.*/, namespace: 'sentinel-sdk' }, () => ({ contents: SDK_SHIM, loader: 'js' }));
  },
};

/** `smoker-alarm.ts` → `smoker-alarm`: names the trace of a file that fails before it declares its id */
export const fileAutomationId = (file: string) =>
  basename(file)
    .replace(/\.[cm]?[jt]s$/, '')
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '-')
    .slice(0, 64) || 'automation';

/** Bundles a file and its relative imports into one CommonJS module (the SDK shimmed). */
export async function compileAutomationFile(file: string): Promise<string> {
  try {
    const result = await build({
      entryPoints: [file],
      bundle: true,
      write: false,
      format: 'cjs',
      platform: 'neutral',
      target: 'es2022',
      logLevel: 'silent',
      plugins: [contained],
    });
    return result.outputFiles[0]!.text;
  } catch (error) {
    const errors = (error as { errors?: { text: string; location?: { line: number } | null }[] }).errors;
    const first = errors?.[0];
    const where = first?.location ? ` (line ${first.location.line})` : '';
    throw new AutomationLoadError(
      `does not compile: ${first ? first.text + where : (error as Error).message}`,
    );
  }
}

/** The module's default export (not yet validated), evaluated in this thread (no sandbox worker). */
export async function loadAutomationFile(file: string, log: (line: string) => void): Promise<unknown> {
  return evaluateAutomation(await compileAutomationFile(file), file, log);
}
