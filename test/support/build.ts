// vitest globalSetup: compile the workspaces (incremental, ~0.3 s when nothing changed)
// before any test spawns `bin/sentinel.js`, which runs the compiled CLI.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  execFileSync(
    process.execPath,
    [fileURLToPath(new URL('../../scripts/build.mjs', import.meta.url)), '--quiet'],
    {
      stdio: 'inherit',
    },
  );
}
