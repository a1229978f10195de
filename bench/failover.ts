// Placeholder until the failover benchmark is built.
export async function runFailover(_argv: string[]): Promise<number> {
  process.stderr.write('bench: failover is not built yet\n');
  return 1;
}
