// Firmware version order for downgrade checks. Versions are what esp_app_desc_t carries
// (`1.4.0`, `v1.5.0-rc.1`, `2024.6.1`): dot-separated numbers, an optional leading `v`
// and an optional pre-release after `-`, ordered as semantic versioning orders them.
// Build metadata after `+` does not count.

interface Parsed {
  core: string[];
  pre: string[];
}

function parse(version: string): Parsed {
  const bare = version.trim().replace(/^v/i, '').split('+')[0] ?? '';
  const dash = bare.indexOf('-');
  const core = (dash < 0 ? bare : bare.slice(0, dash)).split('.');
  const pre = dash < 0 ? [] : bare.slice(dash + 1).split('.');
  return { core, pre };
}

function compareParts(a: string | undefined, b: string | undefined): number {
  const na = a === undefined ? 0 : /^\d+$/.test(a) ? Number(a) : undefined;
  const nb = b === undefined ? 0 : /^\d+$/.test(b) ? Number(b) : undefined;
  if (na !== undefined && nb !== undefined) return Math.sign(na - nb);
  // a number sorts before words (semver), words in ASCII order
  if (na !== undefined) return -1;
  if (nb !== undefined) return 1;
  return a! < b! ? -1 : a! > b! ? 1 : 0;
}

/** <0 when `a` is older than `b`, 0 when they are the same version, >0 when newer. */
export function compareVersions(a: string, b: string): number {
  const pa = parse(a);
  const pb = parse(b);
  for (let i = 0; i < Math.max(pa.core.length, pb.core.length); i++) {
    const order = compareParts(pa.core[i], pb.core[i]);
    if (order !== 0) return order;
  }
  // 1.5.0-rc.1 comes before 1.5.0
  if (pa.pre.length === 0 && pb.pre.length === 0) return 0;
  if (pa.pre.length === 0) return 1;
  if (pb.pre.length === 0) return -1;
  for (let i = 0; i < Math.max(pa.pre.length, pb.pre.length); i++) {
    if (pa.pre[i] === undefined) return -1;
    if (pb.pre[i] === undefined) return 1;
    const order = compareParts(pa.pre[i], pb.pre[i]);
    if (order !== 0) return order;
  }
  return 0;
}
