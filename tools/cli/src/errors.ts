// Errors the CLI knows how to print: one clear line, no stack trace (unless --verbose).

/** A failure the user can act on; `message` says what to do next. Exit code 1. */
export class CliError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
  }
}

/** Wrong arguments. Exit code 2. */
export class UsageError extends CliError {
  override name = 'UsageError';
}
