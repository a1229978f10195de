// The initial page's weight: GET / and the JS and CSS it loads (statically: what the
// browser must fetch before the app runs), as the gateway serves them to a browser that
// accepts gzip and br (the build's brotli copies); beside what those same files weigh
// gzip'd and brotli'd with zlib here, as a check on what is served.
import { brotliCompressSync, brotliDecompressSync, constants, gunzipSync, gzipSync } from 'node:zlib';
import { rawGet } from './gateway.js';

export interface FileWeight {
  path: string;
  /** how it was loaded: the page, a static import, or a lazy import (a later page) */
  kind: 'page' | 'static' | 'lazy';
  status: number;
  contentEncoding: string;
  /** body bytes as transferred */
  servedBytes: number;
  /** gzip level 6 (the usual server default) and brotli quality 11 (precompressed assets) */
  gzipBytes: number;
  brBytes: number;
}

const BROWSER_HEADERS = {
  'accept-encoding': 'gzip, deflate, br',
  accept: 'text/html,application/xhtml+xml,*/*',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) sentinel-bench',
};

/** What `index.html` loads: module scripts, stylesheets, module preloads. */
function linksOfHtml(html: string): string[] {
  const links: string[] = [];
  for (const m of html.matchAll(/<script\b[^>]*\bsrc="([^"]+)"/g)) links.push(m[1]!);
  for (const m of html.matchAll(/<link\b[^>]*\brel="(?:stylesheet|modulepreload)"[^>]*\bhref="([^"]+)"/g))
    links.push(m[1]!);
  return links;
}

/** Static imports (fetched before the module runs) and dynamic ones (fetched when a page needs them). */
function importsOfJs(code: string): { static: string[]; lazy: string[] } {
  const statics = [...code.matchAll(/(?:^|[;\n}])\s*import\s*(?:[\w$*{}\s,]+from\s*)?["']([^"']+)["']/g)];
  const lazy = [...code.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)];
  return { static: statics.map((m) => m[1]!), lazy: lazy.map((m) => m[1]!) };
}

function decoded(body: Buffer, encoding: string): Buffer {
  // the sizes compare on the decoded bytes whatever the gateway sent
  if (encoding === 'gzip') return gunzipSync(body);
  if (encoding === 'br') return brotliDecompressSync(body);
  return body;
}

export async function measurePageWeight(origin: string): Promise<FileWeight[]> {
  const files: FileWeight[] = [];
  const seen = new Set<string>();
  const fetchOne = async (path: string, kind: FileWeight['kind']): Promise<Buffer> => {
    const answer = await rawGet(new URL(path, origin).href, BROWSER_HEADERS);
    if (answer.status !== 200) throw new Error(`GET ${path}: HTTP ${answer.status}`);
    const encoding = String(answer.headers['content-encoding'] ?? 'identity');
    const body = decoded(answer.body, encoding);
    files.push({
      path,
      kind,
      status: answer.status,
      contentEncoding: encoding,
      servedBytes: answer.body.length,
      gzipBytes: gzipSync(body, { level: 6 }).length,
      brBytes: brotliCompressSync(body, {
        params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: body.length },
      }).length,
    });
    return body;
  };
  const visit = async (path: string, kind: FileWeight['kind']): Promise<void> => {
    const url = new URL(path, origin);
    if (seen.has(url.pathname)) return;
    seen.add(url.pathname);
    const body = await fetchOne(url.pathname, kind);
    if (!url.pathname.endsWith('.js')) return;
    const imports = importsOfJs(body.toString('utf8'));
    for (const dep of imports.static) await visit(new URL(dep, url).href, kind);
    for (const dep of imports.lazy) await visit(new URL(dep, url).href, 'lazy');
  };
  const html = (await fetchOne('/', 'page')).toString('utf8');
  seen.add('/');
  for (const link of linksOfHtml(html)) await visit(new URL(link, origin).href, 'static');
  return files;
}
