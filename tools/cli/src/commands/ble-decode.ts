import type { Command } from 'commander';

/** Placeholder: filled in by the work on ble decode. */
export function registerBleDecodeCommand(_ble: Command): void {}
