/** Canonical JSON: one text per value, whatever order its object keys come in. */

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * JSON with object keys sorted at every level, so equal values give equal text (array order
 * is kept: it is part of the value). `undefined` gives the text `undefined`, unlike
 * `JSON.stringify`, so an absent value never equals a present one.
 */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'undefined';
  return JSON.stringify(value, (_k, v: unknown) =>
    isRecord(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, v[k]]),
        )
      : v,
  );
}
