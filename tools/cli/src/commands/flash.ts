import type { Command } from 'commander';

/** Placeholder: filled in by the work on flash / read-flash. */
export function registerFlashCommands(_program: Command): void {}
