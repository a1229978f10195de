// `sentinel image info`, `sentinel partitions`, `sentinel nvs build|dump`: the firmware
// format libraries of @sentinel/firmware on files (CONTRACT.md §5 fixes `image info`).
// Results go to stdout (JSON, or CSV for a binary partition table); a file the formats
// refuse exits 1 with the library's specific reason; bad options exit 2.

import { readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import {
  buildNvsPartition,
  CHIP_NAMES,
  type ChipName,
  DEFAULT_TABLE_OFFSET,
  decodePartitionTable,
  describeImage,
  encodePartitionTable,
  FirmwareFormatError,
  formatPartitionCsv,
  NVS_PAGE_SIZE,
  nameOfSubtype,
  nameOfType,
  nvsItemsToJson,
  type PartitionEntry,
  parseNvsCsv,
  parseNvsJson,
  parsePartitionCsv,
  parseSize,
  readNvsPartition,
  validatePartitionTable,
} from '@sentinel/firmware';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { CliError } from '../errors.js';
import { readUserFile, writeUserFile } from '../user-files.js';

/** `0x8000`, `32768`, `24K`, `4M`, `4MB` */
function sizeArgument(text: string): number {
  try {
    return parseSize(text.replace(/b$/i, ''));
  } catch {
    throw new InvalidArgumentError('give bytes as 0x6000, 24576, 24K or 4MB');
  }
}

/** Runs a format library call; its typed errors become one line naming the file. */
function inFile<T>(path: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof FirmwareFormatError)
      throw new CliError(`${path}: ${error.message}`, { cause: error });
    throw error;
  }
}

const hex = (n: number) => `0x${n.toString(16)}`;
const printJson = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

function tableJson(entries: readonly PartitionEntry[]) {
  return entries.map((e) => ({
    name: e.name,
    type: nameOfType(e.type) ?? e.type,
    subtype: nameOfSubtype(e.type, e.subtype) ?? e.subtype,
    offset: hex(e.offset),
    size: e.size,
    encrypted: e.encrypted,
    readonly: e.readonly,
  }));
}

export function registerFirmwareFormatCommands(program: Command): void {
  registerImage(program);
  registerPartitions(program);
  registerNvs(program);
}

function registerImage(program: Command): void {
  const image = program.command('image').description('inspect ESP app images');
  image
    .command('info')
    .description(
      'print an app image as JSON: chip, entry point, flash settings, segments, checksum and SHA-256 validity, app description',
    )
    .argument('<file>', 'app image (.bin), or a flash dump with --offset')
    .option('--offset <bytes>', 'where the image starts in the file (default: 0)', sizeArgument)
    .action(async (file: string, flags: { offset?: number }) => {
      const bytes = await readUserFile(file);
      const offset = flags.offset ?? 0;
      if (offset >= bytes.length)
        throw new CliError(`${file}: offset ${hex(offset)} is past the end (${bytes.length} bytes)`);
      printJson(inFile(file, () => describeImage(bytes.subarray(offset))));
    });
}

function registerPartitions(program: Command): void {
  program
    .command('partitions')
    .description(
      'convert and check an ESP-IDF partition table: CSV → binary (--out, or the resolved table as JSON), binary → CSV',
    )
    .argument('<file>', 'partitions.csv, or a binary table (partition-table.bin, or a flash dump with --at)')
    .option('--out <file>', 'write the converted table here instead of printing it')
    .option(
      '--flash-size <size>',
      'check every partition fits in this much flash (4MB, 0x400000…)',
      sizeArgument,
    )
    .addOption(
      new Option('--offset <bytes>', 'where the partition table itself lives in flash')
        .argParser(sizeArgument)
        .default(DEFAULT_TABLE_OFFSET, hex(DEFAULT_TABLE_OFFSET)),
    )
    .option(
      '--at <bytes>',
      'read a binary table at this offset of the file (e.g. 0x8000 of a flash dump)',
      sizeArgument,
    )
    .addOption(
      new Option('--chip <chip>', 'check the table offset against this chip’s bootloader offset').choices(
        CHIP_NAMES,
      ),
    )
    .option('--no-md5', 'write the binary without the MD5 entry (CONFIG_PARTITION_TABLE_MD5 off)')
    .action(
      async (
        file: string,
        flags: {
          out?: string;
          flashSize?: number;
          offset: number;
          at?: number;
          md5: boolean;
          chip?: ChipName;
        },
      ) => {
        const raw = await readUserFile(file);
        if (flags.at !== undefined && flags.at >= raw.length)
          throw new CliError(`${file}: --at ${hex(flags.at)} is past the end (${raw.length} bytes)`);
        const bytes = flags.at !== undefined ? raw.subarray(flags.at) : raw;
        // as gen_esp32part: a binary table starts with an entry's magic bytes 0xAA 0x50
        // (with --at the file is a flash dump, so binary whatever is there)
        const binary = flags.at !== undefined || (bytes[0] === 0xaa && bytes[1] === 0x50);
        const checks = { tableOffset: flags.offset, flashSize: flags.flashSize, chip: flags.chip };
        if (binary) {
          const { entries } = inFile(file, () => decodePartitionTable(bytes));
          inFile(file, () => validatePartitionTable(entries, checks));
          const csv = formatPartitionCsv(entries);
          if (flags.out) await writeUserFile(flags.out, csv);
          else process.stdout.write(csv);
          return;
        }
        const entries = inFile(file, () => {
          const parsed = parsePartitionCsv(new TextDecoder().decode(bytes), { tableOffset: flags.offset });
          validatePartitionTable(parsed, checks);
          return parsed;
        });
        if (flags.out)
          await writeUserFile(
            flags.out,
            inFile(file, () => encodePartitionTable(entries, { md5: flags.md5 })),
          );
        printJson({ partitions: tableJson(entries), ...(flags.out ? { out: flags.out } : {}) });
      },
    );
}

function registerNvs(program: Command): void {
  const nvs = program.command('nvs').description('build and read ESP-IDF NVS partitions (format version 2)');
  nvs
    .command('build')
    .description(
      'build an NVS partition image from a nvs_partition_gen CSV or a JSON file (the shape `nvs dump` prints)',
    )
    .argument('<input>', 'input.csv (key,type,encoding,value) or input.json')
    .requiredOption('--size <bytes>', 'partition size, a multiple of 4096 (0x6000, 24K…)', sizeArgument)
    .requiredOption('--out <file>', 'where to write the partition image')
    .action(async (input: string, flags: { size: number; out: string }) => {
      const text = new TextDecoder().decode(await readUserFile(input));
      const json = extname(input).toLowerCase() === '.json';
      const items = inFile(input, () => {
        if (!json) {
          // `file` rows name files relative to the CSV, as nvs_partition_gen reads them from its cwd
          const readFileRow = (path: string) => {
            try {
              return new Uint8Array(readFileSync(resolve(dirname(input), path)));
            } catch (error) {
              throw new CliError(`${input}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code}`, {
                cause: error,
              });
            }
          };
          return parseNvsCsv(text, { readFile: readFileRow });
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch (error) {
          throw new CliError(`${input}: not JSON: ${(error as Error).message}`, { cause: error });
        }
        return parseNvsJson(parsed);
      });
      const image = inFile(input, () => buildNvsPartition(items, flags.size));
      await writeUserFile(flags.out, image);
      const pages = readNvsPartition(image).pages;
      printJson({
        out: flags.out,
        size: image.length,
        namespaces: new Set(items.map((i) => i.namespace)).size,
        keys: items.length,
        pages_used: pages.filter((p) => p.state !== 'empty').length,
        pages_total: pages.length,
      });
    });

  nvs
    .command('dump')
    .description('print the keys of an NVS partition as JSON ({"namespaces":{…},"pages":[…]})')
    .argument('<file>', 'an NVS partition image, or a flash dump with --offset')
    .option('--offset <bytes>', 'where the partition starts in the file (default: 0)', sizeArgument)
    .option(
      '--size <bytes>',
      'partition size (default: from the partition table at 0x8000 of a flash dump, else the rest of the file)',
      sizeArgument,
    )
    .option('--lenient', 'skip damaged entries and list them under "problems" instead of failing')
    .action(async (file: string, flags: { offset?: number; size?: number; lenient?: boolean }) => {
      const bytes = await readUserFile(file);
      const offset = flags.offset ?? 0;
      if (offset >= bytes.length)
        throw new CliError(`${file}: offset ${hex(offset)} is past the end (${bytes.length} bytes)`);
      const size = flags.size ?? partitionSizeAt(bytes, offset) ?? bytes.length - offset;
      if (offset + size > bytes.length)
        throw new CliError(
          `${file}: ${size} bytes at ${hex(offset)} run past the end of the file (${bytes.length} bytes)`,
        );
      if (size % NVS_PAGE_SIZE !== 0)
        throw new CliError(
          `${file}: ${size} bytes is not whole 4096-byte pages; give the partition's --size`,
        );
      const contents = inFile(file, () =>
        readNvsPartition(bytes.subarray(offset, offset + size), { lenient: flags.lenient }),
      );
      printJson({
        ...nvsItemsToJson(contents.items),
        pages: contents.pages,
        ...(flags.lenient ? { problems: contents.problems } : {}),
      });
    });
}

/** In a flash dump, the size of the partition the table at 0x8000 places at `offset`. */
function partitionSizeAt(bytes: Uint8Array, offset: number): number | undefined {
  if (offset === 0 || bytes.length < DEFAULT_TABLE_OFFSET + 32) return undefined;
  try {
    const { entries } = decodePartitionTable(bytes.subarray(DEFAULT_TABLE_OFFSET));
    return entries.find((e) => e.offset === offset)?.size;
  } catch {
    return undefined;
  }
}
