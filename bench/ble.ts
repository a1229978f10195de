// Placeholder until the ble benchmark is built.
export async function runBle(_argv: string[]): Promise<number> {
  process.stderr.write('bench: ble is not built yet\n');
  return 1;
}
