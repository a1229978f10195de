/**
 * The matter server's error codes (python-matter-server `matter_server/common/errors.py`,
 * kept by matterjs-server), so existing clients map our failures the same way.
 */
export const ErrorCode = {
  UnknownError: 0,
  NodeCommissionFailed: 1,
  NodeInterviewFailed: 2,
  NodeNotReady: 3,
  NodeNotResolving: 4,
  NodeNotExists: 5,
  VersionMismatch: 6,
  SDKStackError: 7,
  InvalidArguments: 8,
  InvalidCommand: 9,
  UpdateCheckError: 10,
  UpdateError: 11,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

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
