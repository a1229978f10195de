// nats-server configuration for operator mode: the operator JWT inline, the
// system account, and a `full` account resolver (a directory the server keeps)
// preloaded with every account JWT, so no account server is needed. The full
// resolver, unlike MEMORY, takes account updates pushed by the system user
// (`$SYS.REQ.CLAIMS.UPDATE`): a revocation applies to a running server without a
// reload, which on nats-server 2.9 often disconnects every client. Accepted by
// Debian's nats-server 2.9 (proved by the nats-auth test).

export interface ServerConfigInput {
  listen: string;
  storeDir: string;
  resolverDir: string;
  operatorJwt: string;
  systemAccount: string;
  /** account public key → account JWT */
  accounts: Record<string, string>;
}

/** JWTs, keys and paths as quoted strings (the config format is JSON-like; quote everything). */
const quote = (value: string) => JSON.stringify(value);

export function renderServerConfig(c: ServerConfigInput): string {
  const preload = Object.entries(c.accounts)
    .map(([key, jwt]) => `  ${key}: ${quote(jwt)}`)
    .join('\n');
  return [
    '# Written by `sentinel nats-auth init`; `revoke` rewrites it. Do not edit by hand.',
    '# `revoke --push <url>` applies a change to a running server; a restart applies it too.',
    `listen: ${quote(c.listen)}`,
    'jetstream {',
    `  store_dir: ${quote(c.storeDir)}`,
    '}',
    `operator: ${quote(c.operatorJwt)}`,
    `system_account: ${quote(c.systemAccount)}`,
    'resolver: {',
    '  type: full',
    `  dir: ${quote(c.resolverDir)}`,
    '  allow_delete: false',
    '  interval: "2m"',
    '}',
    'resolver_preload: {',
    preload,
    '}',
    '',
  ].join('\n');
}
