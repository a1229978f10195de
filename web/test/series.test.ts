import { describe, expect, it } from 'vitest';
import { isolated, isRange, summarize, toColumns } from '../src/series.js';

describe('history series', () => {
  it('turns buckets into uPlot columns in seconds', () => {
    const columns = toColumns({
      bucket_ms: 1000,
      points: [
        [2000, 2, 4, 3, 2],
        [1000, 1, 1, 1, 1],
      ],
    });
    expect(columns).toEqual([
      [1, 2],
      [1, 2],
      [1, 4],
      [1, 3],
    ]);
  });

  it('breaks the line across a gap and over empty buckets', () => {
    const [xs, , , means] = toColumns({
      bucket_ms: 1000,
      points: [
        [0, 1, 1, 1, 1],
        [10_000, 2, 2, 2, 1],
        [11_000, 0, 0, 0, 0],
      ],
    });
    expect(xs).toEqual([0, 1, 10, 11]);
    expect(means).toEqual([1, null, 2, null]);
  });

  it('summarises with a count-weighted mean', () => {
    expect(
      summarize({
        points: [
          [0, 1, 3, 2, 1],
          [1, 4, 10, 6, 3],
          [2, null, null, null, 0],
        ],
      }),
    ).toEqual({ min: 1, max: 10, mean: 5, readings: 4 });
    expect(summarize({ points: [] })).toBeNull();
  });

  it('knows its ranges', () => {
    expect(isRange('7d')).toBe(true);
    expect(isRange('1y')).toBe(false);
    expect(isRange(null)).toBe(false);
  });
});

describe('isolated', () => {
  it('finds the values a line cannot join (a lone bucket is drawn as a dot)', () => {
    const data = [
      [1, 2, 3, 4, 5, 6],
      [null, 5, null, 6, 7, null],
    ];
    expect(isolated({ data }, 1)).toEqual([1]);
    expect(isolated({ data: [[1], [3]] }, 1)).toEqual([0]);
    expect(
      isolated(
        {
          data: [
            [1, 2],
            [null, null],
          ],
        },
        1,
      ),
    ).toEqual([]);
  });
});
