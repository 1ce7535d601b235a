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
