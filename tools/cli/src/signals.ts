// How the long-running commands (ble-proxy, simulate, matter-server) learn that they
// should stop.

/** Resolves at the first SIGINT or SIGTERM; a second one falls through to Node's default and quits. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
