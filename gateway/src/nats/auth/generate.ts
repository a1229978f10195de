// `sentinel nats-auth init | add-proxy | add-user | revoke`: the operator, accounts, signing
// keys and user credentials of a Sentinel bus, and the nats-server configuration
// that trusts them. Decentralized JWT auth (NATS docs, "JWT authentication"):
// the operator signs accounts with its signing key, each account signs its users
// with scoped signing keys whose templates (roles.ts) fix what a user may do.
import { readdir, readFile, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  type Account,
  createAccount,
  createOperator,
  createUser,
  encodeAccount,
  encodeOperator,
  encodeUser,
  fmtCreds,
  fromSeed,
  type KeyPair,
  newScopedSigner,
  type OperatorLimits,
} from '@nats-io/jwt';
import {
  type Manifest,
  type ManifestUser,
  makePrivateDir,
  NatsAuthDirError,
  paths,
  readManifest,
  readSeed,
  writeSecret,
} from './files.js';
import { pushAccountJwt } from './push.js';
import {
  ACCOUNT,
  type AccountName,
  PROXY_ID_PATTERN,
  proxyUserName,
  ROLE_PERMISSIONS,
  type Role,
  relayImports,
  SENTINEL_EXPORTS,
} from './roles.js';
import { renderServerConfig } from './server-config.js';

export class NatsAuthError extends Error {
  override name = 'NatsAuthError';
}
/** A user's input is wrong (exit code 2 in the CLI). */
export class NatsAuthUsageError extends NatsAuthError {
  override name = 'NatsAuthUsageError';
}

export interface InitOptions {
  out: string;
  force?: boolean;
  proxies?: string[];
  /** host:port written into nats-server.conf */
  listen?: string;
  /** JetStream store of the server (default <out>/jetstream) */
  storeDir?: string;
  /** where the server keeps account JWTs (default <out>/resolver) */
  resolverDir?: string;
}

/** What the commands report: paths and public keys, never a seed. */
export interface UserSummary {
  name: string;
  role: ManifestUser['role'];
  account: string;
  public_key: string;
  creds: string;
}

const OPERATOR_NAME = 'sentinel';
const UNLIMITED = -1;

/** No limits on connections and data; JetStream only where asked (SYS may not have it). */
function accountLimits(jetstream: boolean): OperatorLimits {
  return {
    subs: UNLIMITED,
    data: UNLIMITED,
    payload: UNLIMITED,
    imports: UNLIMITED,
    exports: UNLIMITED,
    wildcards: true,
    conn: UNLIMITED,
    leaf: UNLIMITED,
    ...(jetstream
      ? { mem_storage: UNLIMITED, disk_storage: UNLIMITED, streams: UNLIMITED, consumer: UNLIMITED }
      : {}),
  };
}

const seedName = {
  operator: 'operator',
  operatorSigning: 'operator-signing',
  account: (account: AccountName) => `account-${account}`,
  signing: (account: AccountName, role: string) => `signing-${account}-${role}`,
};

/** Roles with a scoped signing key in each account; SYS has one plain signing key. */
const SIGNERS: Record<AccountName, string[]> = {
  [ACCOUNT.system]: ['default'],
  [ACCOUNT.sentinel]: ['gateway', 'proxy', 'matter', 'automations'],
  [ACCOUNT.relay]: ['relay'],
};

/** The account JWT, rebuilt whole from the manifest (revoke re-signs it). */
async function accountJwt(manifest: Manifest, name: AccountName, operatorSigner: KeyPair): Promise<string> {
  const account = manifest.accounts[name];
  const signingKeys = Object.entries(account.signing_keys).map(([role, key]) =>
    role === 'default' ? key : newScopedSigner(key, role, ROLE_PERMISSIONS[role as Role].permissions),
  );
  const claims: Partial<Account> = {
    signing_keys: signingKeys,
    limits: accountLimits(name === ACCOUNT.sentinel),
    ...(Object.keys(account.revocations).length > 0 ? { revocations: account.revocations } : {}),
    ...(name === ACCOUNT.sentinel ? { exports: SENTINEL_EXPORTS } : {}),
    ...(name === ACCOUNT.relay ? { imports: relayImports(manifest.accounts.SENTINEL.public_key) } : {}),
  };
  return encodeAccount(name, account.public_key, claims, { signer: operatorSigner });
}

/**
 * The operator JWT is made once, at init, and written unchanged into every
 * rewritten configuration: nats-server refuses to reload a changed trusted operator.
 */
async function writeOperatorJwt(dir: string, manifest: Manifest, operator: KeyPair): Promise<void> {
  const jwt = await encodeOperator(OPERATOR_NAME, operator, {
    signing_keys: [manifest.operator.signing_key],
    system_account: manifest.accounts.SYS.public_key,
  });
  await writeSecret(paths(dir).operatorJwt, `${jwt}\n`);
}

/** Writes nats-server.conf; returns the account JWTs it preloads, by account name. */
async function writeServerConfig(
  dir: string,
  manifest: Manifest,
  operatorSigner: KeyPair,
): Promise<Record<AccountName, string>> {
  const operatorJwt = (await readFile(paths(dir).operatorJwt, 'utf8')).trim();
  const byName = {} as Record<AccountName, string>;
  const accounts: Record<string, string> = {};
  for (const name of Object.values(ACCOUNT)) {
    byName[name] = await accountJwt(manifest, name, operatorSigner);
    accounts[manifest.accounts[name].public_key] = byName[name];
  }
  await writeSecret(
    paths(dir).serverConfig,
    renderServerConfig({
      listen: manifest.server.listen,
      storeDir: manifest.server.store_dir,
      resolverDir: manifest.server.resolver_dir,
      operatorJwt,
      systemAccount: manifest.accounts.SYS.public_key,
      accounts,
    }),
  );
  return byName;
}

async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  await writeSecret(paths(dir).manifest, `${JSON.stringify(manifest, null, 2)}\n`);
}

/** The key pair of a stored seed; a damaged file is named (never its content: it is a secret). */
async function storedKeyPair(dir: string, name: string): Promise<KeyPair> {
  const seed = await readSeed(dir, name);
  try {
    return fromSeed(seed);
  } catch (error) {
    throw new NatsAuthDirError(`${paths(dir).key(name)} does not hold a valid nkey seed`, { cause: error });
  }
}

async function newSeed(dir: string, name: string, create: () => KeyPair): Promise<KeyPair> {
  const kp = create();
  await writeSecret(paths(dir).key(name), kp.getSeed());
  return kp;
}

/** Mints a user: key pair, JWT signed by the role's signing key, a .creds file. */
async function issueUser(
  dir: string,
  manifest: Manifest,
  user: { name: string; jwtName: string; role: ManifestUser['role'] },
): Promise<ManifestUser> {
  const account: AccountName = user.role === 'system' ? ACCOUNT.system : ROLE_PERMISSIONS[user.role].account;
  const signerRole = user.role === 'system' ? 'default' : user.role;
  const signer = await storedKeyPair(dir, seedName.signing(account, signerRole));
  const ukp = createUser();
  const jwt = await encodeUser(
    user.jwtName,
    ukp,
    manifest.accounts[account].public_key,
    {},
    {
      signer,
      // a scoped signer's template is the whole permission set; the user JWT carries none
      scopedUser: user.role !== 'system',
    },
  );
  const credsPath = paths(dir).userCreds(user.name);
  await writeSecret(credsPath, fmtCreds(jwt, ukp));
  return {
    name: user.name,
    role: user.role,
    account,
    public_key: ukp.getPublicKey(),
    creds: `creds/${user.name}.creds`,
    created: Math.floor(Date.now() / 1000),
  };
}

const summarize = (dir: string, user: ManifestUser): UserSummary => ({
  name: user.name,
  role: user.role,
  account: user.account,
  public_key: user.public_key,
  creds: resolve(dir, user.creds),
});

function checkProxyId(id: string): void {
  if (!PROXY_ID_PATTERN.test(id))
    throw new NatsAuthUsageError(`invalid proxy id "${id}": must match [a-z0-9][a-z0-9_-]{0,63}`);
}

async function prepareOutDir(out: string, force: boolean): Promise<void> {
  const entries = await readdir(out).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw new NatsAuthError(`cannot use ${out}: ${error.message}`, { cause: error });
  });
  if (entries.length > 0 && !force)
    throw new NatsAuthError(
      `${out} exists and is not empty; pass --force to replace the credentials in it (every old credential stops working)`,
    );
  if (force) {
    const p = paths(out);
    for (const path of [p.keys, p.creds, p.manifest, p.serverConfig, p.operatorJwt])
      await rm(path, { recursive: true, force: true });
  }
  await makePrivateDir(out);
  await makePrivateDir(paths(out).keys);
  await makePrivateDir(paths(out).creds);
}

export async function initNatsAuth(options: InitOptions): Promise<{
  dir: string;
  server_config: string;
  operator: string;
  accounts: Record<AccountName, string>;
  users: UserSummary[];
}> {
  for (const id of options.proxies ?? []) checkProxyId(id);
  const dir = resolve(options.out);
  await prepareOutDir(dir, options.force ?? false);

  const operator = await newSeed(dir, seedName.operator, createOperator);
  const operatorSigner = await newSeed(dir, seedName.operatorSigning, createOperator);
  const accounts = {} as Manifest['accounts'];
  for (const name of Object.values(ACCOUNT)) {
    const account = await newSeed(dir, seedName.account(name), createAccount);
    const signingKeys: Record<string, string> = {};
    for (const role of SIGNERS[name]) {
      signingKeys[role] = (await newSeed(dir, seedName.signing(name, role), createAccount)).getPublicKey();
    }
    accounts[name] = { public_key: account.getPublicKey(), signing_keys: signingKeys, revocations: {} };
  }
  const manifest: Manifest = {
    version: 1,
    operator: {
      name: OPERATOR_NAME,
      public_key: operator.getPublicKey(),
      signing_key: operatorSigner.getPublicKey(),
    },
    server: {
      listen: options.listen ?? '0.0.0.0:4222',
      store_dir: resolve(options.storeDir ?? resolve(dir, 'jetstream')),
      resolver_dir: resolve(options.resolverDir ?? resolve(dir, 'resolver')),
    },
    accounts,
    users: [],
  };
  const users: { name: string; jwtName: string; role: ManifestUser['role'] }[] = [
    { name: 'sys', jwtName: 'sys', role: 'system' },
    { name: 'gateway', jwtName: 'gateway', role: 'gateway' },
    { name: 'matter', jwtName: 'matter', role: 'matter' },
    { name: 'automations', jwtName: 'automations', role: 'automations' },
    { name: 'relay', jwtName: 'relay', role: 'relay' },
    ...(options.proxies ?? []).map((id) => ({
      name: proxyUserName(id),
      jwtName: id,
      role: 'proxy' as const,
    })),
  ];
  for (const user of users) manifest.users.push(await issueUser(dir, manifest, user));
  await writeOperatorJwt(dir, manifest, operator);
  await writeServerConfig(dir, manifest, operatorSigner);
  await writeManifest(dir, manifest);
  return {
    dir,
    server_config: paths(dir).serverConfig,
    operator: manifest.operator.public_key,
    accounts: {
      SYS: accounts.SYS.public_key,
      SENTINEL: accounts.SENTINEL.public_key,
      RELAY: accounts.RELAY.public_key,
    },
    users: manifest.users.map((user) => summarize(dir, user)),
  };
}

const active = (manifest: Manifest, name: string) =>
  manifest.users.find((u) => u.name === name && !u.revoked);

/**
 * Issues a user after init and records it. Callers have checked that the name has
 * no active credential; revoked entries of that name stay (they keep the history).
 */
async function addIssuedUser(
  dir: string,
  manifest: Manifest,
  request: Parameters<typeof issueUser>[2],
): Promise<UserSummary> {
  const user = await issueUser(dir, manifest, request);
  manifest.users.push(user);
  await writeManifest(dir, manifest);
  return summarize(dir, user);
}

/**
 * A new proxy credential. The account JWT does not change (the proxy signing key
 * is already trusted), so a running server needs no reload.
 */
export async function addProxy(dirOption: string, id: string): Promise<UserSummary> {
  checkProxyId(id);
  const dir = resolve(dirOption);
  const manifest = await readManifest(dir);
  const name = proxyUserName(id);
  if (active(manifest, name))
    throw new NatsAuthError(`proxy "${id}" already has a credential; revoke it first to issue a new one`);
  return addIssuedUser(dir, manifest, { name, jwtName: id, role: 'proxy' });
}

/** Roles `add-user` issues (proxies have `add-proxy`; `sys` only comes from init). */
export const USER_ROLES = ['gateway', 'matter', 'automations', 'relay'] as const;
export type UserRole = (typeof USER_ROLES)[number];

/**
 * Another credential for a role: a replacement after `revoke`, or one per gateway
 * node so each can be revoked alone. Like add-proxy, it needs no server update.
 */
export async function addUser(dirOption: string, role: string, nameOption?: string): Promise<UserSummary> {
  if (!(USER_ROLES as readonly string[]).includes(role))
    throw new NatsAuthUsageError(`unknown role "${role}": one of ${USER_ROLES.join(', ')}`);
  const name = nameOption ?? role;
  if (!PROXY_ID_PATTERN.test(name) || name === 'sys' || name.startsWith(proxyUserName('')))
    throw new NatsAuthUsageError(
      `invalid user name "${name}": [a-z0-9][a-z0-9_-]{0,63}, not "sys" nor ble-proxy-…`,
    );
  const dir = resolve(dirOption);
  const manifest = await readManifest(dir);
  if (active(manifest, name))
    throw new NatsAuthError(`"${name}" already has a credential; revoke it first or give another --name`);
  return addIssuedUser(dir, manifest, { name, jwtName: name, role: role as UserRole });
}

/**
 * Revokes a user in its account JWT (`revocations`: JWTs of that key issued up to
 * now are refused) and rewrites the server configuration. With `push`, the new
 * account JWT is sent to that running server as the system user; the server
 * closes the revoked user's connections and nobody else's. Without it, the next
 * start of nats-server applies it.
 */
export async function revokeUser(
  dirOption: string,
  target: string,
  options: { push?: string | undefined } = {},
): Promise<UserSummary & { revoked: number; pushed: boolean }> {
  const dir = resolve(dirOption);
  const manifest = await readManifest(dir);
  const user = active(manifest, target) ?? active(manifest, proxyUserName(target));
  if (!user)
    throw new NatsAuthError(
      `no active credential named "${target}" (users: ${manifest.users
        .filter((u) => !u.revoked)
        .map((u) => u.name)
        .join(', ')})`,
    );
  if (user.role === 'system')
    throw new NatsAuthError('the system user cannot be revoked here; run init again to replace every key');
  const now = Math.floor(Date.now() / 1000);
  user.revoked = now;
  manifest.accounts[user.account].revocations[user.public_key] = now;
  const operatorSigner = await storedKeyPair(dir, seedName.operatorSigning);
  const jwts = await writeServerConfig(dir, manifest, operatorSigner);
  await writeManifest(dir, manifest);
  // the seed in it can no longer connect; keep nothing secret that has no use
  await rm(paths(dir).userCreds(user.name), { force: true });
  if (options.push) await pushAccountJwt(options.push, paths(dir).userCreds('sys'), jwts[user.account]);
  return { ...summarize(dir, user), revoked: now, pushed: Boolean(options.push) };
}
