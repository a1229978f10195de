// One error class per failure a person, a script or the HTTP layer can cause. Each
// carries the HTTP API's error code (docs/http-api.md), so the HTTP layer maps a
// people error to its answer by class, never by message text.

export type PeopleErrorCode =
  | 'bad_request'
  | 'not_found'
  | 'conflict'
  | 'gone'
  | 'throttled'
  | 'bad_credentials';

export abstract class PeopleError extends Error {
  abstract readonly code: PeopleErrorCode;
}

/** A user or token name outside `[a-z0-9][a-z0-9._-]{0,63}`. */
export class InvalidNameError extends PeopleError {
  override name = 'InvalidNameError';
  readonly code = 'bad_request';
}

/** A role other than admin, operator or viewer. */
export class InvalidRoleError extends PeopleError {
  override name = 'InvalidRoleError';
  readonly code = 'bad_request';
}

/** A password shorter than 10 or longer than 1024 characters. */
export class PasswordPolicyError extends PeopleError {
  override name = 'PasswordPolicyError';
  readonly code = 'bad_request';
}

export class UserExistsError extends PeopleError {
  override name = 'UserExistsError';
  readonly code = 'conflict';
}

export class UnknownUserError extends PeopleError {
  override name = 'UnknownUserError';
  readonly code = 'not_found';
}

/** Removing or demoting the only admin would leave nobody able to manage people. */
export class LastAdminError extends PeopleError {
  override name = 'LastAdminError';
  readonly code = 'conflict';
}

/** An onboarding token that was used already, or never issued: the link is spent. */
export class OnboardingTokenGoneError extends PeopleError {
  override name = 'OnboardingTokenGoneError';
  readonly code = 'gone';
}

/** Wrong user name or password; deliberately the same for both. */
export class BadCredentialsError extends PeopleError {
  override name = 'BadCredentialsError';
  readonly code = 'bad_credentials';
}

/** Too many failed log-ins: refused without looking at the password until `retryAfterMs` passed. */
export class ThrottledError extends PeopleError {
  override name = 'ThrottledError';
  readonly code = 'throttled';
  constructor(
    readonly retryAfterMs: number,
    message = `too many failed log-ins; try again in ${Math.ceil(retryAfterMs / 1000)} s`,
  ) {
    super(message);
  }
}

export class TokenExistsError extends PeopleError {
  override name = 'TokenExistsError';
  readonly code = 'conflict';
}

export class UnknownTokenError extends PeopleError {
  override name = 'UnknownTokenError';
  readonly code = 'not_found';
}

/** An audit record that does not fit the schema (a bug in the caller, never stored). */
export class InvalidAuditRecordError extends PeopleError {
  override name = 'InvalidAuditRecordError';
  readonly code = 'bad_request';
}
