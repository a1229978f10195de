import type { Command } from 'commander';

/** Placeholder: filled in by the work on ble-proxy. */
export function registerBleProxyCommand(_program: Command): void {}
