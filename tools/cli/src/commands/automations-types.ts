// `sentinel automations types`: writes the registry as a declaration file, so that
// automations are type-checked against the entities that exist (docs/automations.md).
import { readEntityRecords, renderEntityTypes } from '@sentinel/automations';
import type { Command } from 'commander';
import { writeUserFile } from '../user-files.js';
import { addStoreOptions, withStore } from './device.js';

export function registerAutomationsTypesCommand(automations: Command): void {
  addStoreOptions(
    automations
      .command('types')
      .description(
        'write a .d.ts of the current entities (ids, names, platforms, units, command values) for tsc to check automations against',
      )
      .option(
        '--out <file>',
        'write the declaration here (e.g. automations/sentinel-entities.d.ts) instead of stdout',
      ),
  ).action(async (flags: { out?: string }, self: Command) => {
    const { records, invalid } = await withStore(self, (store) => readEntityRecords(store.bus.kv.entities));
    // a malformed record is left out and named, so the rest still gets its types
    for (const bad of invalid)
      process.stderr.write(`skipped entity "${bad.key}": not an entity record (${bad.reason})\n`);
    const text = renderEntityTypes(records, { generatedAt: new Date() });
    if (!flags.out) {
      process.stdout.write(text);
      return;
    }
    await writeUserFile(flags.out, text);
    process.stderr.write(
      `wrote ${records.length} entities to ${flags.out}; include it in the tsconfig.json that checks your automations\n`,
    );
  });
}
