// Operator, accounts and scoped credentials of a Sentinel bus (docs/security.md):
// what `sentinel nats-auth` manages by hand, and what the gateway generates for
// its embedded nats-server at first start (../embedded-auth.ts).
export { MANIFEST_FILE, NatsAuthDirError, paths as natsAuthPaths, readManifest } from './files.js';
export {
  addProxy,
  addUser,
  initNatsAuth,
  NatsAuthError,
  NatsAuthUsageError,
  revokeUser,
  USER_ROLES,
  type UserSummary,
} from './generate.js';
export { PushError, pushAccountJwt } from './push.js';
export { ACCOUNT, PROXY_ID_PATTERN, ROLE_PERMISSIONS, ROLES } from './roles.js';
