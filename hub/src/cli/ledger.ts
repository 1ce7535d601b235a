/**
 * `driftless drift ledger`: the drift ledger of a window (docs/drift-ledger.md) as tables,
 * JSON or YAML, or the per-episode CSV for audits.
 */
import { errorMessage, FlagError, type FlagSpec, type FlagValues } from '@driftless/common';
import { ApiError, HubClient, HubUnreachableError } from './client.ts';
import { defineCommand } from './command.ts';
import { appFlag, clusterFlag, selectorFlag } from './flags.ts';
import { requireCluster } from './lookup.ts';
import { renderTable, timeText, type Column } from './table.ts';

/** Flags of `driftless drift ledger`. */
export const LEDGER_FLAGS = {
  from: {
    type: 'string',
    default: '',
    help: 'Start of the window: an ISO 8601 date (2026-11-01) or date-time (2026-11-01T10:00:00Z); default 30 days before --to.',
  },
  to: {
    type: 'string',
    default: '',
    help: 'End of the window, exclusive, in the same forms as --from; default now.',
  },
  selector: selectorFlag,
  cluster: clusterFlag,
  app: appFlag,
  manager: {
    type: 'string',
    default: '',
    help: 'Only drift made by this field manager, e.g. kubectl-edit.',
  },
  csv: {
    type: 'boolean',
    default: false,
    help: 'Print every drift episode of the window as CSV (for audits) instead of the summary.',
  },
} satisfies FlagSpec;

/** What {@link driftLedgerCommand} runs with. */
export interface DriftLedgerRun {
  /** The hub's HTTP base URL and API token (the global --hub and --token). */
  hub: string;
  token: string;
  flags: FlagValues<typeof LEDGER_FLAGS>;
  /** The global --output: `table` for people, else a format for scripts. */
  output: string;
  /** Prints `value` in the --output format, or for `table` the text `table()` returns. */
  print: (value: unknown, table: () => string) => void;
  /** Writes raw text (the CSV). */
  stdout: (text: string) => void;
}

type Row = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
/** A timing of the ledger answer. */
interface Dist {
  count: number;
  medianMs: number | null;
  p90Ms: number | null;
}

const ledgerPath = (suffix: string, f: FlagValues<typeof LEDGER_FLAGS>) => {
  const q = new URLSearchParams();
  for (const k of ['from', 'to', 'selector', 'cluster', 'app', 'manager'] as const)
    if (f[k]) q.set(k, f[k]);
  const s = q.toString();
  return `/api/v1/drift/ledger${suffix}${s ? `?${s}` : ''}`;
};

/** `1.2 s`, `350 ms`, `4.5 min`, `-` for none: a duration as people scan it. */
export function durationText(ms: unknown): string {
  if (typeof ms !== 'number') return '-';
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 60_000) return `${Number((ms / 1_000).toFixed(1))} s`;
  if (ms < 3_600_000) return `${Number((ms / 60_000).toFixed(1))} min`;
  return `${Number((ms / 3_600_000).toFixed(1))} h`;
}

const cell = (header: string, get: (r: Row) => unknown): Column<Row> => ({
  header,
  cell: (r) => {
    const v = get(r);
    return (typeof v === 'string' && v !== '') || typeof v === 'number' ? String(v) : '-';
  },
});
const timing = (key: 'timeToDetect' | 'timeToHeal', which: 'medianMs' | 'p90Ms') => (r: Row) =>
  durationText((r[key] as Dist)[which]);

/** The ledger answer as text: the summary, then managers, fields, repeat objects and groups. */
export function ledgerText(l: Row): string {
  const s = l['summary'] as Row;
  const closedBy = Object.entries(s['byClosedBy'] as Record<string, number>)
    .map(([k, n]) => `${k || 'unknown'} ${n}`)
    .join(', ');
  const detect = s['timeToDetect'] as Dist;
  const heal = s['timeToHeal'] as Dist;
  const lines = [
    `Drift ledger ${timeText(l['from'])} – ${timeText(l['to'])}`,
    `Episodes        ${s['episodes']} (${s['episodesPerDay']}/day): ${s['healed']} healed, ${s['closed']} closed otherwise, ${s['open']} open, ${s['fights']} fights`,
    `Closed by       ${closedBy || '-'}`,
    `Time to detect  median ${durationText(detect.medianMs)}, p90 ${durationText(detect.p90Ms)} (${detect.count} with a known change time)`,
    `Time to heal    median ${durationText(heal.medianMs)}, p90 ${durationText(heal.p90Ms)} (${heal.count} healed)`,
    ...(s['truncated']
      ? [`Timings cover the newest ${s['sampled']} of ${s['episodes']} episodes.`]
      : []),
    '',
    'Managers',
    renderTable(l['managers'] as Row[], [
      cell('manager', (r) => r['manager'] || 'unknown'),
      cell('episodes', (r) => r['episodes']),
      cell('fights', (r) => r['fights']),
      cell('objects', (r) => r['objects']),
      cell('heal median', timing('timeToHeal', 'medianMs')),
      cell('heal p90', timing('timeToHeal', 'p90Ms')),
    ]),
    'Fields',
    renderTable(l['fields'] as Row[], [
      cell('kind', (r) => r['kind']),
      cell('field', (r) => r['path']),
      cell('episodes', (r) => r['episodes']),
      cell('fights', (r) => r['fights']),
      cell('managers', (r) => r['managers']),
    ]),
    'Objects that drifted again',
    renderTable(l['objects'] as Row[], [
      cell('cluster', (r) => r['cluster']),
      cell('app', (r) => r['app']),
      cell('object', (r) => r['objectRef']),
      cell('episodes', (r) => r['episodes']),
      cell('managers', (r) => r['managers']),
      cell('last', (r) => timeText(r['lastDetectedAt'])),
    ]),
    'By cluster, app and manager',
    renderTable(l['groups'] as Row[], [
      cell('cluster', (r) => r['cluster']),
      cell('app', (r) => r['app']),
      cell('manager', (r) => r['manager'] || 'unknown'),
      cell('episodes', (r) => r['episodes']),
      cell('detect median', timing('timeToDetect', 'medianMs')),
      cell('detect p90', timing('timeToDetect', 'p90Ms')),
      cell('heal median', timing('timeToHeal', 'medianMs')),
      cell('heal p90', timing('timeToHeal', 'p90Ms')),
    ]),
  ];
  return lines.join('\n');
}

/** Fetches the CSV export as text, with the errors {@link HubClient} raises. */
async function fetchCsv(hub: string, token: string, path: string): Promise<string> {
  const base = hub.replace(/\/+$/, '');
  let res: Response;
  try {
    res = await fetch(base + path, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(300_000),
    });
  } catch (err) {
    throw new HubUnreachableError(
      `cannot reach the hub at ${base}: ${errorMessage(err)} (set --hub or DRIFTLESS_HUB)`,
      { cause: err },
    );
  }
  const text = await res.text();
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      message = (JSON.parse(text) as { error: { message: string } }).error.message;
    } catch {
      // not the API's error shape: the status says enough
    }
    throw new ApiError(`GET ${path}: ${message}`, { status: res.status });
  }
  return text;
}

/**
 * Runs `driftless drift ledger`: prints the ledger of the window, or with `--csv` every episode
 * as CSV. Resolves to the exit code; hub errors throw {@link ApiError} or
 * {@link HubUnreachableError}, a wrong flag {@link FlagError}.
 */
export async function driftLedgerCommand(run: DriftLedgerRun): Promise<number> {
  const { flags, output } = run;
  const client = new HubClient({ base: run.hub, token: run.token });
  await requireCluster(client, flags.cluster);
  if (flags.csv) {
    if (output !== 'table')
      throw new FlagError('drift ledger: --csv prints CSV; leave out --output');
    run.stdout(await fetchCsv(run.hub, run.token, ledgerPath('.csv', flags)));
    return 0;
  }
  const ledger = await client.call<Row>('GET', ledgerPath('', flags));
  run.print(ledger, () => ledgerText(ledger));
  return 0;
}

/** The drift ledger commands, for the registry (commands/index.ts). */
export const ledgerCommands = [
  defineCommand({
    name: 'drift ledger',
    usage: '[--from DATE] [--to DATE] [-l SELECTOR] [--manager M] [--csv]',
    summary: 'drift ledger: time to detect and heal, who drifts most; --csv for audits',
    description: `Over a window (default: the last 30 days), per cluster, app and field manager: drift
episodes by how they stand, time to detect and time to heal (median, p90), the managers, fields
and objects that drift most (docs/drift-ledger.md). With --csv: every episode, one row each.

Examples:
  driftless drift ledger -l env=prod
  driftless drift ledger --from 2026-11-01 --to 2026-12-01 --csv > drift-2026-11.csv`,
    flags: LEDGER_FLAGS,
    run: (ctx) =>
      driftLedgerCommand({
        hub: ctx.flags.hub,
        token: ctx.flags.token,
        flags: ctx.flags,
        output: ctx.output,
        print: ctx.print,
        stdout: ctx.io.stdout,
      }),
  }),
];
