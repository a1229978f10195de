// Everything read from the wire goes through here: JSON, then a zod schema, and a
// one-line reason when either fails (it ends up in a log line or a problem event).
import { z } from 'zod';

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: string };

export function decode<S extends z.ZodType>(schema: S, text: string): Decoded<z.output<S>> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, error: 'not JSON' };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) return { ok: false, error: z.prettifyError(parsed.error).replaceAll('\n', '; ') };
  return { ok: true, value: parsed.data };
}
