import type { Command } from 'commander';

/** Placeholder: filled in by the work on nats-auth. */
export function registerNatsAuthCommands(_program: Command): void {}
