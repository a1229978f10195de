import { MatterErrorCode as ErrorCode } from '@sentinel/protocol';

/** the matter server's error codes (@sentinel/protocol), by their python-matter-server names */
export { ErrorCode };

/** A failure with the error code the WebSocket API reports for it. */
export class MatterServerError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MatterServerError';
  }
}
