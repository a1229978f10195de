// JSON with exact 64-bit integers. Matter node and fabric ids use the full 64 bits; the
// matter server sends them as bare JSON numbers, which JSON.parse/stringify would round.

const MARK = '\u0000bigint:';
const QUOTED_MARK = /"\\u0000bigint:(-?\d+)"/g;

/** JSON.stringify, except that bigints are written as bare numbers with every digit. */
export function stringify(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? `${MARK}${v}` : v)).replace(
    QUOTED_MARK,
    '$1',
  );
}

/**
 * JSON.parse, except that integers outside Number's safe range become bigints instead of
 * being rounded. (Node 20's JSON.parse gives a reviver no access to the source text.)
 */
export function parse(text: string): unknown {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      const match = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
      const token = match?.[0] ?? c;
      const integer = match !== null && match[1] === undefined && match[2] === undefined;
      // the mark goes in escaped: JSON strings may not hold a raw control character
      out += integer && !Number.isSafeInteger(Number(token)) ? `"\\u0000bigint:${token}"` : token;
      i += token.length;
    } else {
      out += c;
      i += 1;
    }
  }
  return JSON.parse(out, (_key, v) =>
    typeof v === 'string' && v.startsWith(MARK) ? BigInt(v.slice(MARK.length)) : v,
  );
}
