// The root of the typed errors the format libraries throw. Each format narrows `reason`
// to its own string union, so callers branch on `error.reason`, never on message text.

import type { z } from 'zod';

export abstract class FirmwareFormatError<Reason extends string = string> extends Error {
  abstract readonly format: 'image' | 'partitions' | 'nvs' | 'manifest' | 'provisioning' | 'signature';
  constructor(
    readonly reason: Reason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The first zod issue as `path: message`; `whole` names the input when the issue is about all of it. */
export function firstIssue(error: z.ZodError, whole: string): string {
  const issue = error.issues[0]!;
  return `${issue.path.join('.') || whole}: ${issue.message}`;
}
