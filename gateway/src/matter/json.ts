// JSON as the matter server writes it: node and fabric ids are 64-bit integers sent as bare
// JSON numbers, which JSON.parse would round past 2^53. Here they become bigints (and
// bigints are written back with every digit), so `matter-<node id>` is always the node's.

/** JSON text that never appears in a real message: the escaped NUL opens a quoted big integer. */
const BIG_PREFIX = '\u0000int:';
/** a JSON string (kept as is) or a number token */
const TOKENS = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

export function parseMatterJson(text: string): unknown {
  const marked = text.replace(TOKENS, (token) => {
    if (token.startsWith('"') || /[.eE]/.test(token) || Number.isSafeInteger(Number(token))) return token;
    return `"\\u0000int:${token}"`;
  });
  return JSON.parse(marked, (_key, value) =>
    typeof value === 'string' && value.startsWith(BIG_PREFIX)
      ? BigInt(value.slice(BIG_PREFIX.length))
      : value,
  );
}

export function stringifyMatterJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? `${BIG_PREFIX}${v}` : v)).replace(
    /"\\u0000int:(-?\d+)"/g,
    '$1',
  );
}
