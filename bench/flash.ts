// Placeholder until the flash benchmark is built.
export async function runFlash(_argv: string[]): Promise<number> {
  process.stderr.write('bench: flash is not built yet\n');
  return 1;
}
