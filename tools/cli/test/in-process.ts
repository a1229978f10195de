// Runs a `sentinel automations …` subcommand inside the test process (no build, no spawn):
// a program with just the commands `register` adds, stdout and stderr captured.
import { Command } from 'commander';
import { vi } from 'vitest';

export async function automationsInProcess(
  register: (automations: Command) => void,
  args: string[],
): Promise<{ stdout: string; stderr: string; error: unknown }> {
  const program = new Command('sentinel').exitOverride();
  register(program.command('automations'));
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
  let error: unknown;
  try {
    await program.parseAsync(['automations', ...args], { from: 'user' });
  } catch (e) {
    error = e;
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return { stdout, stderr, error };
}
