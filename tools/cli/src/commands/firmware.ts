// `sentinel firmware keygen|sign|verify` (CONTRACT.md §5 fixes keygen and sign): ESP-IDF
// secure boot v2 signing of app images, byte-compatible with `espsecure.py sign_data
// --version 2`, so a device with secure boot or signed-app verification accepts them.
// `sentinel firmware add|list|remove`: the OTA catalog under <data>/firmware/ota, or with
// --nats (a gateway on an external NATS) the object store bucket every node serves from.

import { chmod, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import {
  decodePartitionTable,
  FirmwareFormatError,
  type PartitionEntry,
  parseImage,
  parsePartitionCsv,
  publicKeyDigest,
  SIGNING_SCHEMES,
  type SigningPublicKey,
  type SigningScheme,
  signImage,
  verifySignedImage,
} from '@sentinel/firmware';
import { type Command, Option } from 'commander';
import { CliError } from '../errors.js';
import { readUserFile, writeUserFile } from '../user-files.js';
import { generateSigningKey, publicKeyFromPem, signerFromPem } from './firmware-keys.js';
import { addGatewayOptions, gatewayOptionValues } from './options.js';

const CHANNELS = ['stable', 'beta'] as const;

const printJson = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

/** Runs a format library call; its typed errors become one line naming the file. */
async function inFile<T>(path: string, work: () => T | Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof FirmwareFormatError)
      throw new CliError(`${path}: ${error.message}`, { cause: error });
    throw error;
  }
}

/** `app.bin` → `app.signed.bin`, next to it */
const defaultSignedPath = (image: string) =>
  join(dirname(image), `${basename(image, extname(image))}.signed${extname(image) || '.bin'}`);

export function registerFirmwareCommands(program: Command): void {
  const firmware = program
    .command('firmware')
    .description(
      'firmware for over-the-air updates: signing keys, secure boot v2 signatures, the OTA catalog',
    );

  firmware
    .command('keygen')
    .description('create a secure boot v2 signing key (PEM, written 0600; never overwrites a file)')
    .requiredOption('--out <file>', 'where to write the private key (PEM)')
    .addOption(
      new Option('--scheme <scheme>', 'rsa3072 (every chip with secure boot v2) or ecdsa256')
        .choices(SIGNING_SCHEMES)
        .default('rsa3072'),
    )
    .action(async (flags: { out: string; scheme: SigningScheme }) => {
      const pem = await generateSigningKey(flags.scheme);
      try {
        // 'wx': a signing key that devices already trust must not be lost to a typo
        await writeFile(flags.out, pem, { mode: 0o600, flag: 'wx' });
        await chmod(flags.out, 0o600);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new CliError(
          code === 'EEXIST'
            ? `${flags.out} already exists; a signing key is never overwritten`
            : `cannot write ${flags.out}: ${code ?? (error as Error).message}`,
          { cause: error },
        );
      }
      const publicKey = publicKeyFromPem(new TextEncoder().encode(pem), flags.out);
      printJson({ out: flags.out, scheme: flags.scheme, key_digest: publicKeyDigest(publicKey) });
    });

  firmware
    .command('sign')
    .description(
      'append a secure boot v2 signature block to an app image (padded to 4 KiB, as espsecure.py sign_data --version 2)',
    )
    .argument('<image>', 'an ESP app image (.bin)')
    .requiredOption('--key <file>', 'the private signing key (PEM, from firmware keygen or espsecure)')
    .option('--out <file>', 'where to write the signed image (default: <image>.signed.bin)')
    .action(async (imageFile: string, flags: { key: string; out?: string }) => {
      const image = await readUserFile(imageFile);
      const parsed = await inFile(imageFile, () => parseImage(image));
      // a device refuses a broken image whatever its signature: do not sign one
      if (!parsed.checksum.valid)
        throw new CliError(`${imageFile}: the image checksum is wrong; rebuild it before signing`);
      if (parsed.sha256 && !parsed.sha256.valid)
        throw new CliError(`${imageFile}: the image's appended SHA-256 is wrong; rebuild it before signing`);
      const signer = signerFromPem(await readUserFile(flags.key), flags.key);
      const signed = await inFile(imageFile, () => signImage(image, signer));
      const out = flags.out ?? defaultSignedPath(imageFile);
      await writeUserFile(out, signed.bytes);
      printJson({
        out,
        scheme: signed.scheme,
        size: signed.bytes.length,
        signed_length: signed.signedLength,
        image_digest: signed.imageDigest,
        key_digest: signed.keyDigest,
        version: parsed.appDescription?.version ?? null,
      });
    });

  firmware
    .command('verify')
    .description(
      'check the secure boot v2 signature of a signed image; with --key, also that one of these keys signed it',
    )
    .argument('<image>', 'a signed image')
    .option(
      '--key <file>',
      'a trusted key (PEM, public or private); repeat for several',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .action(async (imageFile: string, flags: { key?: string[] }) => {
      const bytes = await readUserFile(imageFile);
      const trusted: SigningPublicKey[] = [];
      for (const file of flags.key ?? []) trusted.push(publicKeyFromPem(await readUserFile(file), file));
      const result = await inFile(imageFile, () => verifySignedImage(bytes, flags.key ? { trusted } : {}));
      printJson({
        valid: result.valid,
        signed_length: result.signedLength,
        image_digest: result.imageDigest,
        blocks: result.blocks.map((b) => ({
          index: b.index,
          scheme: b.scheme,
          key_digest: b.keyDigest,
          digest_valid: b.digestValid,
          signature_valid: b.signatureValid,
          ...(b.trusted === undefined ? {} : { trusted: b.trusted }),
        })),
        problems: result.problems,
      });
      if (!result.valid) throw new CliError(`${imageFile}: signature invalid: ${result.reason}`);
    });

  registerCatalog(firmware);
}

/** The options that pick the catalog: the same as `gateway` takes. */
const CATALOG_OPTIONS = ['dataDir', 'natsUrl', 'natsCreds'] as const;

/**
 * The catalog the gateway uses: with --nats (an external NATS) the object store bucket
 * shared by every node, else <data>/firmware/ota. `work` runs with it; the NATS
 * connection, if any, is closed after.
 */
async function withCatalog<T>(
  flags: Record<string, unknown>,
  work: (catalog: import('@sentinel/gateway/store').OtaCatalog) => Promise<T>,
): Promise<T> {
  // loaded here: keygen and sign need nothing of the gateway
  const { FirmwareStore, GATEWAY_OPTIONS, ObjectStoreCatalog, openGatewayStore } = await import(
    '@sentinel/gateway/store'
  );
  const values = gatewayOptionValues(flags, CATALOG_OPTIONS);
  if (!values.natsUrl) {
    const dataDir = GATEWAY_OPTIONS.dataDir.schema.parse(values.dataDir);
    return work(new FirmwareStore(dataDir).catalog);
  }
  const store = await openGatewayStore({ natsUrl: values.natsUrl, natsCreds: values.natsCreds });
  try {
    return await work(new ObjectStoreCatalog(store.bus.firmware));
  } finally {
    await store.close();
  }
}

/** Catalog refusals are one line naming what to do; anything else propagates. */
async function inCatalog<T>(file: string | undefined, work: () => Promise<T>): Promise<T> {
  const { FirmwareCatalogError } = await import('@sentinel/gateway/store');
  try {
    return await work();
  } catch (error) {
    if (error instanceof FirmwareFormatError || error instanceof FirmwareCatalogError)
      throw new CliError(`${file ? `${file}: ` : ''}${error.message}`, { cause: error });
    throw error;
  }
}

/** A partition table as CSV or binary (what `sentinel partitions` reads). */
async function readPartitionTable(file: string): Promise<PartitionEntry[]> {
  const bytes = await readUserFile(file);
  return inFile(file, () =>
    bytes[0] === 0xaa && bytes[1] === 0x50
      ? decodePartitionTable(bytes).entries
      : parsePartitionCsv(new TextDecoder().decode(bytes)),
  );
}

function registerCatalog(firmware: Command): void {
  addGatewayOptions(
    firmware
      .command('add')
      .description(
        'validate an app image (chip, version, SHA-256, signature, size) and add it to the OTA catalog',
      )
      .argument('<image>', 'an ESP app image, signed or not')
      .addOption(new Option('--channel <channel>', 'release channel').choices(CHANNELS).default('stable'))
      .option(
        '--partition-table <file>',
        'refuse the image unless it fits the smallest OTA slot of this table (CSV or binary)',
      ),
    CATALOG_OPTIONS,
  ).action(
    async (
      imageFile: string,
      flags: { channel: (typeof CHANNELS)[number]; partitionTable?: string } & Record<string, unknown>,
    ) => {
      const bytes = await readUserFile(imageFile);
      const partitions = flags.partitionTable ? await readPartitionTable(flags.partitionTable) : undefined;
      const { entry, added } = await withCatalog(flags, (catalog) =>
        inCatalog(imageFile, () => catalog.addImage(bytes, { channel: flags.channel, partitions })),
      );
      printJson({ ...entry, added });
    },
  );

  addGatewayOptions(
    firmware
      .command('list')
      .description('list the OTA catalog as JSON, newest first')
      .addOption(new Option('--channel <channel>', 'only this channel').choices(CHANNELS)),
    CATALOG_OPTIONS,
  ).action(async (flags: { channel?: (typeof CHANNELS)[number] } & Record<string, unknown>) => {
    const images = await withCatalog(flags, (catalog) =>
      inCatalog(undefined, () => catalog.images(flags.channel)),
    );
    printJson({ images });
  });

  addGatewayOptions(
    firmware
      .command('remove')
      .description('remove an image from the OTA catalog by its id (as `firmware list` shows it)')
      .argument('<id>', 'catalog id, <project>-<version>-<chip>'),
    CATALOG_OPTIONS,
  ).action(async (id: string, flags: Record<string, unknown>) => {
    const entry = await withCatalog(flags, (catalog) => inCatalog(undefined, () => catalog.removeImage(id)));
    printJson({ removed: entry.id });
  });
}
