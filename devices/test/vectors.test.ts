// The shared reference vectors (../shared/vectors/ble next to the repository),
// compared exactly as `npm run vectors` does. Skipped, saying so, when the
// folder is absent: the vectors are never copied into this repository.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_VECTOR_DIR, runVectors } from '../../scripts/vectors.js';

const present = existsSync(DEFAULT_VECTOR_DIR);

describe('shared BLE reference vectors', () => {
  it.skipIf(!present)('every fully asserted vector of a supported format passes', () => {
    const rows = runVectors(DEFAULT_VECTOR_DIR);
    const failures = rows.flatMap((r) =>
      r.failures.filter((f) => f.fully).map((f) => `${f.id}: ${f.diff.join('; ')}`),
    );
    expect(failures).toEqual([]);
    // and the comparison did run on a real number of them
    expect(rows.reduce((n, r) => n + r.passed, 0)).toBeGreaterThan(300);
  });

  it.runIf(!present)('is skipped: no ../shared/vectors/ble next to the repository', () => {
    console.info(`BLE vectors skipped: ${DEFAULT_VECTOR_DIR} is absent`);
  });
});
