import type { Command } from 'commander';

/** Placeholder: filled in by the work on image info / partitions / nvs. */
export function registerFirmwareFormatCommands(_program: Command): void {}
