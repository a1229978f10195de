import type { Command } from 'commander';

/** Placeholder: filled in by the work on simulate ble. */
export function registerBleSimulator(_simulate: Command): void {}
