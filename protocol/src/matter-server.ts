// The matter server's WebSocket API as both our sides speak it (bridges/matter serves it,
// the gateway's Matter adapter and `sentinel matter` are its clients): the error codes of
// python-matter-server's `common/errors.py` (kept by matterjs-server), so existing clients
// map failures the same way, and JSON with exact 64-bit integers.

export const MatterErrorCode = {
  UnknownError: 0,
  NodeCommissionFailed: 1,
  NodeInterviewFailed: 2,
  NodeNotReady: 3,
  NodeNotResolving: 4,
  NodeNotExists: 5,
  VersionMismatch: 6,
  SDKStackError: 7,
  InvalidArguments: 8,
  InvalidCommand: 9,
  UpdateCheckError: 10,
  UpdateError: 11,
} as const;
export type MatterErrorCode = (typeof MatterErrorCode)[keyof typeof MatterErrorCode];

// Node and fabric ids use all 64 bits and travel as bare JSON numbers, which JSON.parse
// would round past 2^53 (and Node 20's reviver sees no source text). Such integers become
// bigints here, and bigints are written back with every digit.

/** Never in a real message: the escaped NUL opens a quoted big integer. */
const BIG_PREFIX = '\u0000int:';
const QUOTED_BIG = /"\\u0000int:(-?\d+)"/g;
/** a JSON string (kept as it is) or a number token */
const TOKENS = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/** JSON.parse, except that integers outside Number's safe range become bigints instead of being rounded. */
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

/** JSON.stringify, except that bigints are written as bare numbers with every digit. */
export function stringifyMatterJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? `${BIG_PREFIX}${v}` : v)).replace(
    QUOTED_BIG,
    '$1',
  );
}
