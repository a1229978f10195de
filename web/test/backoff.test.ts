import { describe, expect, it } from 'vitest';
import { backoff } from '../src/backoff.js';

describe('reconnecting', () => {
  it('doubles the wait, capped at 30 s, with jitter', () => {
    expect(backoff(0, 0.5)).toBe(500);
    expect(backoff(3, 0.5)).toBe(4000);
    expect(backoff(20, 0.5)).toBe(30_000);
    expect(backoff(0, 0)).toBe(375);
    expect(backoff(0, 1)).toBe(625);
  });
});
