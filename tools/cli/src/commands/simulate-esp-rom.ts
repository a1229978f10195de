import type { Command } from 'commander';

/** Placeholder: filled in by the work on simulate esp-rom. */
export function registerEspRomSimulator(_simulate: Command): void {}
