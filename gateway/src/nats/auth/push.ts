// Pushes an updated account JWT to a running nats-server that uses the `full`
// resolver, as the system account's user: a request on $SYS.REQ.CLAIMS.UPDATE
// with the JWT as its body (NATS docs, "Account lookup using Resolver"). The
// server checks the operator's signature, stores the JWT in its resolver
// directory and applies it at once (revocations close those users' connections).
import { readFile } from 'node:fs/promises';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { z } from 'zod';

const CLAIMS_UPDATE = '$SYS.REQ.CLAIMS.UPDATE';

const ReplySchema = z.union([
  z.object({ data: z.object({ code: z.number(), message: z.string().optional() }) }),
  z.object({ error: z.object({ code: z.number(), description: z.string().optional() }) }),
]);

export class PushError extends Error {
  override name = 'PushError';
}

export async function pushAccountJwt(server: string, sysCreds: string, jwt: string): Promise<void> {
  let nc: Awaited<ReturnType<typeof connect>>;
  try {
    nc = await connect({
      servers: server,
      name: 'sentinel-nats-auth',
      authenticator: credsAuthenticator(await readFile(sysCreds)),
      maxReconnectAttempts: 0,
    });
  } catch (error) {
    throw new PushError(`cannot connect to ${server} as the system user: ${(error as Error).message}`, {
      cause: error,
    });
  }
  try {
    const reply = await nc.request(CLAIMS_UPDATE, jwt, { timeout: 10_000 }).catch((error: Error) => {
      throw new PushError(`no answer from ${server} to the account update: ${error.message}`, {
        cause: error,
      });
    });
    const parsed = ReplySchema.safeParse(reply.json());
    if (!parsed.success)
      throw new PushError(`${server} answered the account update with something unexpected`);
    if ('error' in parsed.data)
      throw new PushError(
        `${server} refused the account update (${parsed.data.error.code}): ${parsed.data.error.description ?? ''} — is it running the nats-server.conf of this directory?`,
      );
  } finally {
    await nc.close();
  }
}
