import { describe, expect, it } from 'vitest';
import { parseMatterJson, stringifyMatterJson } from '../src/index.js';

describe('JSON with exact 64-bit integers', () => {
  const max = 0xffff_ffff_ffff_ffffn;

  it('writes bigints as bare numbers with every digit', () => {
    expect(stringifyMatterJson({ node_id: max, small: 5n, list: [1n, 'x'] })).toBe(
      '{"node_id":18446744073709551615,"small":5,"list":[1,"x"]}',
    );
  });

  it('reads integers beyond 2^53 as bigints and leaves the rest alone', () => {
    const text =
      '{"a":18446744073709551615,"b":9007199254740991,"c":-9007199254740993,"d":1.5e300,"e":"123456789012345678901"}';
    expect(parseMatterJson(text)).toEqual({
      a: max,
      b: 9007199254740991,
      c: -9007199254740993n,
      d: 1.5e300,
      e: '123456789012345678901',
    });
  });

  it('keeps strings with quotes, escapes and digits intact', () => {
    const value = { s: 'say "18446744073709551615" \\ ok', t: ['\u00e9', 12345678901234567890n] };
    expect(parseMatterJson(stringifyMatterJson(value))).toEqual(value);
  });

  it('rejects what JSON.parse rejects', () => {
    expect(() => parseMatterJson('{"a":')).toThrow();
    expect(() => parseMatterJson('{"a":01}')).toThrow();
  });
});
