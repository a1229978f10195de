// People: accounts, sessions, API tokens, log-in throttling and the audit log.
export * from './audit.js';
export * from './errors.js';
export * from './model.js';
export * from './password.js';
export * from './people.js';
export * from './revocation.js';
export * from './sessions.js';
export * from './throttle.js';
export * from './tokens.js';
export * from './users.js';
