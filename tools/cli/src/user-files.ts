// Files the user names on the command line: a failure to read or write one is a
// CliError line naming the file and the errno code (the stack is noise here).
import { readFile, writeFile } from 'node:fs/promises';
import { CliError } from './errors.js';

const reason = (error: unknown) => (error as NodeJS.ErrnoException).code ?? (error as Error).message;

export async function readUserFile(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (error) {
    throw new CliError(`cannot read ${path}: ${reason(error)}`, { cause: error });
  }
}

export async function writeUserFile(path: string, data: Uint8Array | string): Promise<void> {
  try {
    await writeFile(path, data);
  } catch (error) {
    throw new CliError(`cannot write ${path}: ${reason(error)}`, { cause: error });
  }
}
