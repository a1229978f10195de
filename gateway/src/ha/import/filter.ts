// Which Home Assistant entities are imported: --ha-include / --ha-exclude, each a
// comma-separated list of patterns. A pattern is a domain (`light`), an entity id
// glob (`sensor.*_temperature`, `light.kitchen`) or an area (`area:kitchen`, the
// entity registry's area_id). Nothing included = every entity of a domain we map.

export interface FilterSubject {
  entity_id: string;
  area_id?: string | null | undefined;
}

type Matcher = (subject: FilterSubject) => boolean;

function matcher(pattern: string): Matcher {
  if (pattern.startsWith('area:')) {
    const area = pattern.slice('area:'.length);
    return (s) => s.area_id === area;
  }
  if (!pattern.includes('.') && !/[*?]/.test(pattern)) return (s) => s.entity_id.split('.')[0] === pattern;
  const source = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('');
  const regex = new RegExp(`^${source}$`);
  return (s) => regex.test(s.entity_id);
}

const parse = (list: string | undefined): Matcher[] =>
  (list ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map(matcher);

export class EntityFilter {
  readonly #include: Matcher[];
  readonly #exclude: Matcher[];

  constructor(include: string | undefined, exclude: string | undefined) {
    this.#include = parse(include);
    this.#exclude = parse(exclude);
  }

  chosen(subject: FilterSubject): boolean {
    if (this.#include.length > 0 && !this.#include.some((m) => m(subject))) return false;
    return !this.#exclude.some((m) => m(subject));
  }
}
