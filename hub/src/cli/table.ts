/** One column of a table: a header and how to get the cell text from a row. */
export interface Column<T> {
  header: string;
  cell(row: T): string;
}

/** Renders rows as a plain, left-aligned text table with an upper-case header line. */
export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => c.cell(r).replace(/\s+/g, ' ')));
  const headers = columns.map((c) => c.header.toUpperCase());
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n') + '\n';
}

/** `key=value,key=value` for labels; `-` when empty. */
export function labelsText(labels: unknown): string {
  const parts = Object.entries((labels ?? {}) as Record<string, string>).map(
    ([k, v]) => `${k}=${v}`,
  );
  return parts.length ? parts.join(',') : '-';
}

/** A time as people scan it in a table: `2026-01-02 15:04:05`, or `-` for never. */
export function timeText(iso: unknown): string {
  return typeof iso === 'string' && iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-';
}

/** A commit SHA shortened to 12 characters. */
export function shortRev(rev: unknown): string {
  return typeof rev === 'string' && rev ? rev.slice(0, 12) : '-';
}

/** A digest (plan digest, trace id) shortened to 12 characters; `-` when empty. */
export function shortDigest(digest: unknown): string {
  if (typeof digest !== 'string' || !digest) return '-';
  const bare = digest.replace(/^sha256:/, '');
  return bare.slice(0, 12);
}

/** A row of API JSON, read loosely for display. */
export type Row = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A column whose cell is `cell(row)` as text: `-` for empty, JSON for objects. */
export function col(header: string, cell: (r: Row) => unknown): Column<Row> {
  return {
    header,
    cell: (r) => {
      const v = cell(r);
      if (v === undefined || v === null || v === '') return '-';
      if (typeof v === 'string') return v;
      return typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
    },
  };
}

/** `label:   value` lines, the labels padded to one width, for a single object. */
export function fieldsText(fields: readonly (readonly [string, unknown])[]): string {
  const width = Math.max(...fields.map(([k]) => k.length)) + 2;
  return (
    fields
      .map(
        ([k, v]) =>
          `${`${k}:`.padEnd(width)}${v === undefined || v === null || v === '' ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v as string | number | boolean)}`,
      )
      .join('\n') + '\n'
  );
}

/** Text cut to `max` characters on one line, with `…` when cut. */
export function clip(text: unknown, max = 80): string {
  const s = typeof text === 'string' ? text.replace(/\s+/g, ' ').trim() : '';
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
