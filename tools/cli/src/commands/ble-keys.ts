import type { Command } from 'commander';

/** Placeholder: filled in by the work on ble key. */
export function registerBleKeyCommands(_ble: Command): void {}
