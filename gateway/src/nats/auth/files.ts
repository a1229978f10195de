// The on-disk layout of a nats-auth directory, and owner-only file writes.
//
//   <dir>/                       0700
//     sentinel-auth.json         public keys, users, revocations (no secrets)
//     nats-server.conf           operator, system account, full resolver preload
//     operator.jwt               made once at init (a server cannot reload a changed operator)
//     keys/<name>.nk             seeds: operator, accounts, signing keys (0600)
//     creds/<user>.creds         one per user: JWT + seed (0600)
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ACCOUNT, ROLES } from './roles.js';

export const MANIFEST_FILE = 'sentinel-auth.json';
export const SERVER_CONFIG_FILE = 'nats-server.conf';

export const paths = (dir: string) => ({
  manifest: join(dir, MANIFEST_FILE),
  serverConfig: join(dir, SERVER_CONFIG_FILE),
  operatorJwt: join(dir, 'operator.jwt'),
  keys: join(dir, 'keys'),
  key: (name: string) => join(dir, 'keys', `${name}.nk`),
  creds: join(dir, 'creds'),
  userCreds: (user: string) => join(dir, 'creds', `${user}.creds`),
});

const PublicKey = (prefix: string) => z.string().regex(new RegExp(`^${prefix}[A-Z2-7]{55}$`));

const AccountSchema = z.object({
  public_key: PublicKey('A'),
  /** role (or "default") → public key of the signing key; its seed is keys/signing-<account>-<role>.nk */
  signing_keys: z.record(z.string(), PublicKey('A')),
  /** user public key → unix seconds: JWTs issued up to then are refused */
  revocations: z.record(z.string(), z.number().int()),
});

const UserSchema = z.object({
  name: z.string().min(1),
  role: z.enum([...ROLES, 'system']),
  account: z.enum([ACCOUNT.system, ACCOUNT.sentinel, ACCOUNT.relay]),
  public_key: PublicKey('U'),
  creds: z.string().min(1),
  created: z.number().int(),
  revoked: z.number().int().optional(),
});

export const ManifestSchema = z.object({
  version: z.literal(1),
  operator: z.object({ name: z.string(), public_key: PublicKey('O'), signing_key: PublicKey('O') }),
  server: z.object({ listen: z.string(), store_dir: z.string(), resolver_dir: z.string() }),
  accounts: z.object({ SYS: AccountSchema, SENTINEL: AccountSchema, RELAY: AccountSchema }),
  users: z.array(UserSchema),
});
export type Manifest = z.infer<typeof ManifestSchema>;
export type ManifestUser = Manifest['users'][number];

export class NatsAuthDirError extends Error {
  override name = 'NatsAuthDirError';
}

/**
 * Writes through a temporary file and a rename: the file is 0600 from its first
 * byte, and a crash never leaves half a config that nats-server would refuse.
 */
export async function writeSecret(path: string, data: string | Uint8Array): Promise<void> {
  const temporary = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, data, { mode: 0o600, flag: 'wx' });
    await chmod(temporary, 0o600); // the umask may have taken bits away, never added; be exact
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

export async function makePrivateDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  await chmod(path, 0o700);
}

export async function readManifest(dir: string): Promise<Manifest> {
  const text = await readFile(paths(dir).manifest, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new NatsAuthDirError(
      error.code === 'ENOENT'
        ? `${dir} is not a nats-auth directory (no ${MANIFEST_FILE}); create one with \`sentinel nats-auth init --out ${dir}\``
        : `cannot read ${paths(dir).manifest}: ${error.message}`,
      { cause: error },
    );
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new NatsAuthDirError(`${paths(dir).manifest} is not JSON`, { cause: error });
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new NatsAuthDirError(`${paths(dir).manifest}: ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}

export async function readSeed(dir: string, name: string): Promise<Uint8Array> {
  const seed = await readFile(paths(dir).key(name), 'utf8').catch((error: Error) => {
    throw new NatsAuthDirError(`cannot read key ${paths(dir).key(name)}: ${error.message}`, { cause: error });
  });
  return new TextEncoder().encode(seed.trim());
}
