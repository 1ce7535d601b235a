// Pure logic of the dashboard (no DOM): label selectors, cell states, totals, filters,
// link templates and time formatting. Unit-tested in model.test.ts.
import type { App, Cluster, Health, Labels, SyncStatus } from './api.ts';

/** A colour class; every use also carries text and a symbol, so colour is never needed. */
export type Tone = 'ok' | 'warn' | 'bad' | 'info' | 'muted';

/** One label selector term, as the hub's API takes them. */
type Term =
  { op: 'eq' | 'ne'; key: string; value: string } | { op: 'exists' | 'absent'; key: string };

const KEY = /^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$/;

/** Parses `env=prod,region!=eu,gpu,!legacy`; throws an Error naming the bad term. */
export function parseSelector(text: string): Term[] {
  const terms: Term[] = [];
  for (const raw of text.split(',')) {
    const part = raw.trim();
    if (!part) continue;
    let m: RegExpExecArray | null;
    if ((m = /^([^=!\s]+)\s*(!=|==|=)\s*([^=!\s]*)$/.exec(part))) {
      const [, key = '', op, value = ''] = m;
      if (!KEY.test(key)) throw new Error(`"${part}": "${key}" is not a label key`);
      terms.push({ op: op === '!=' ? 'ne' : 'eq', key, value });
    } else if ((m = /^!\s*([^=!\s]+)$/.exec(part))) {
      if (!KEY.test(m[1]!)) throw new Error(`"${part}": "${m[1]}" is not a label key`);
      terms.push({ op: 'absent', key: m[1]! });
    } else if (KEY.test(part)) {
      terms.push({ op: 'exists', key: part });
    } else {
      throw new Error(`"${part}" is not key=value, key!=value, key or !key`);
    }
  }
  return terms;
}

/** Whether labels satisfy every term. */
export function matchesSelector(labels: Labels, terms: Term[]): boolean {
  return terms.every((t) => {
    const has = Object.hasOwn(labels, t.key);
    switch (t.op) {
      case 'eq':
        return has && labels[t.key] === t.value;
      case 'ne':
        return !has || labels[t.key] !== t.value;
      case 'exists':
        return has;
      case 'absent':
        return !has;
    }
  });
}

export interface StateInfo {
  tone: Tone;
  symbol: string;
  text: string;
}

export const SYNC: Record<SyncStatus, StateInfo> = {
  synced: { tone: 'ok', symbol: '✓', text: 'Synced' },
  'out-of-sync': { tone: 'warn', symbol: '≠', text: 'Out of sync' },
  syncing: { tone: 'info', symbol: '↻', text: 'Syncing' },
  failed: { tone: 'bad', symbol: '✕', text: 'Failed' },
  unknown: { tone: 'muted', symbol: '?', text: 'Unknown' },
};

export const HEALTH: Record<Health, StateInfo> = {
  healthy: { tone: 'ok', symbol: '♥', text: 'Healthy' },
  progressing: { tone: 'info', symbol: '◔', text: 'Progressing' },
  degraded: { tone: 'bad', symbol: '▼', text: 'Degraded' },
  missing: { tone: 'bad', symbol: '∅', text: 'Missing' },
  unknown: { tone: 'muted', symbol: '?', text: 'Unknown' },
};

/** The drift part of a cell. */
export const driftInfo = (count: number): StateInfo =>
  count > 0
    ? { tone: 'warn', symbol: 'Δ', text: `${count} drifted` }
    : { tone: 'ok', symbol: '·', text: 'No drift' };

const RANK: Record<Tone, number> = { bad: 4, warn: 3, info: 2, muted: 1, ok: 0 };

/**
 * Whether a cluster's agent reports now (connected, not revoked). When it does not, its apps'
 * states are what it last reported: the cluster may have changed since.
 */
export const isReporting = (c: Pick<Cluster, 'connected' | 'revoked'> | undefined): boolean =>
  c !== undefined && c.connected && !c.revoked;

/**
 * A state as shown for an app whose agent no longer reports: a good state is not shown as good
 * (green) any more, since nobody vouches for it now; a bad one stays bad. The text says so.
 */
export const asLastReported = (info: StateInfo, reporting: boolean): StateInfo =>
  reporting
    ? info
    : {
        ...info,
        tone: info.tone === 'ok' ? 'muted' : info.tone,
        text: `${info.text} (last reported)`,
      };

/** Why an app's state is only what its agent last reported, in words; '' while it reports. */
export function notReportingText(
  c: Pick<Cluster, 'connected' | 'revoked' | 'lastSeen'> | undefined,
): string {
  if (isReporting(c)) return '';
  if (!c) return 'its cluster is unknown to the hub';
  if (c.revoked) return 'the cluster is revoked';
  return c.lastSeen
    ? `the agent is not connected (last seen ${ago(c.lastSeen)})`
    : 'the agent is not connected';
}

/**
 * The tone of a whole cell: its worst part. An app whose agent does not report now is never
 * `ok`: its last good report is shown muted.
 */
export function appTone(
  a: Pick<App, 'syncStatus' | 'health' | 'driftCount'>,
  reporting = true,
): Tone {
  const tones = [SYNC[a.syncStatus].tone, HEALTH[a.health].tone, driftInfo(a.driftCount).tone];
  const worst = tones.reduce((w, t) => (RANK[t] > RANK[w] ? t : w), 'ok' as Tone);
  return !reporting && worst === 'ok' ? 'muted' : worst;
}

/**
 * A cell described in words, for screen readers and tooltips; with `cluster` not reporting, it
 * says the state is what the agent last reported, and why.
 */
export function describeApp(
  a: App,
  cluster?: Pick<Cluster, 'connected' | 'revoked' | 'lastSeen'>,
): string {
  const parts = [
    SYNC[a.syncStatus].text.toLowerCase(),
    HEALTH[a.health].text.toLowerCase(),
    a.driftCount > 0
      ? `${a.driftCount} drifted object${a.driftCount === 1 ? '' : 's'}`
      : 'no drift',
  ];
  const stale = cluster ? notReportingText(cluster) : '';
  return `${a.app} on ${a.cluster}: ${parts.join(', ')}${stale ? ` as last reported; ${stale}` : ''}`;
}

/** The state filters of the overview. */
export const STATE_FILTERS = {
  drifted: { label: 'Drifted', test: (a: App) => a.driftCount > 0 },
  degraded: {
    label: 'Degraded',
    test: (a: App) => a.health === 'degraded' || a.health === 'missing',
  },
  'out-of-sync': { label: 'Out of sync', test: (a: App) => a.syncStatus === 'out-of-sync' },
  failed: { label: 'Failed', test: (a: App) => a.syncStatus === 'failed' },
} as const;
export type StateFilter = keyof typeof STATE_FILTERS;

/** Whether an app passes the chosen state filters (any of them; none chosen: all pass). */
export const passesStates = (a: App, states: readonly StateFilter[]): boolean =>
  states.length === 0 || states.some((s) => STATE_FILTERS[s].test(a));

/** Fleet totals over some clusters and their apps. */
export interface Totals {
  clusters: number;
  connected: number;
  apps: number;
  synced: number;
  outOfSync: number;
  failed: number;
  degraded: number;
  driftedApps: number;
  driftedObjects: number;
  awaitingApproval: number;
  /** Clusters whose newest driftless.yaml is invalid (their apps run an older config). */
  configFailed: number;
  /** Apps of clusters whose agent does not report now (not connected or revoked). */
  notReporting: number;
}

export function totals(clusters: Cluster[], appsOf: (cluster: string) => App[]): Totals {
  const t: Totals = {
    clusters: clusters.length,
    connected: 0,
    apps: 0,
    synced: 0,
    outOfSync: 0,
    failed: 0,
    degraded: 0,
    driftedApps: 0,
    driftedObjects: 0,
    awaitingApproval: 0,
    configFailed: 0,
    notReporting: 0,
  };
  for (const c of clusters) {
    if (c.connected) t.connected++;
    if (c.config?.state === 'failed') t.configFailed++;
    const reporting = isReporting(c);
    for (const a of appsOf(c.name)) {
      if (a.gone) continue;
      t.apps++;
      if (!reporting) t.notReporting++;
      // Synced is a claim about now: only an agent that reports can make it.
      if (a.syncStatus === 'synced' && reporting) t.synced++;
      if (a.syncStatus === 'out-of-sync') t.outOfSync++;
      if (a.syncStatus === 'failed') t.failed++;
      if (a.health === 'degraded' || a.health === 'missing') t.degraded++;
      if (a.driftCount > 0) t.driftedApps++;
      t.driftedObjects += a.driftCount;
      if (needsApproval(a)) t.awaitingApproval++;
    }
  }
  return t;
}

/** A manual app whose current plan waits for someone to approve it. */
export const needsApproval = (a: App): boolean =>
  a.syncMode === 'manual' && a.syncStatus === 'out-of-sync' && a.planDigest !== '' && !a.gone;

/** The first 7 characters of a commit SHA. */
export const shortSha = (sha: string): string => sha.slice(0, 7);

/**
 * Fills a link template (`{revision}`, `{traceId}`, ...). Values are URL-encoded
 * except `{repo}`, which is a URL itself. Undefined when the template is empty or
 * the result is not an http(s) URL.
 */
export function fillTemplate(template: string, values: Record<string, string>): string | undefined {
  if (!template) return undefined;
  const url = template.replace(/\{(\w+)\}/g, (whole, key: string) => {
    const v = values[key];
    if (v === undefined) return whole;
    return key === 'repo' ? v.replace(/\.git$/, '').replace(/\/$/, '') : encodeURIComponent(v);
  });
  return /^https?:\/\//i.test(url) ? url : undefined;
}

/** A length of time as people say it: "3 s", "5 min", "2 h", "4 d". */
function span(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}

/**
 * "3 s ago", "5 min ago", "2 h ago", "4 d ago"; "never" for null. A time more than a minute
 * ahead says so ("5 min in the future (clocks disagree)"): it comes from a clock that runs
 * ahead (an agent's, or this browser's behind), and "0 s ago" would pass it off as fresh.
 */
export function ago(iso: string | null, nowMs = Date.now()): string {
  if (!iso) return 'never';
  const s = Math.round((nowMs - Date.parse(iso)) / 1000);
  if (s < -60) return `${span(-s)} in the future (clocks disagree)`;
  return `${span(Math.max(0, s))} ago`;
}

/** A local date and time, to the second; "—" for null. */
export function when(iso: string | null): string {
  if (!iso) return '—';
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** 850 ms, 1.2 s, 2 min 5 s. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** A drift or plan value as display text: JSON pretty-printed, "(absent)" for null. */
export function showValue(v: unknown): string {
  if (v === null || v === undefined) return '(absent)';
  if (typeof v === 'string') return v;
  return JSON.stringify(v, null, 2);
}

/** A line diff (LCS) of two texts: each line kept, removed (-) or added (+). */
export function lineDiff(a: string, b: string): { op: ' ' | '-' | '+'; text: string }[] {
  const x = a.split('\n');
  const y = b.split('\n');
  // Values are small (a field's value); the quadratic table is fine up to a few hundred lines.
  if (x.length * y.length > 250_000)
    return [
      ...x.map((text) => ({ op: '-' as const, text })),
      ...y.map((text) => ({ op: '+' as const, text })),
    ];
  const n = x.length;
  const m = y.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i]![j] =
        x[i] === y[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: { op: ' ' | '-' | '+'; text: string }[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) {
      out.push({ op: ' ', text: x[i]! });
      i++;
      j++;
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) out.push({ op: '-', text: x[i++]! });
    else out.push({ op: '+', text: y[j++]! });
  }
  while (i < n) out.push({ op: '-', text: x[i++]! });
  while (j < m) out.push({ op: '+', text: y[j++]! });
  return out;
}

/** A plan diff value (JSON text from the agent) for display. */
export function showJsonText(text: string): string {
  if (text === '') return '(absent)';
  try {
    return showValue(JSON.parse(text));
  } catch {
    return text;
  }
}

/** `apps/v1 Deployment podinfo/web` for an object reference. */
export function objectName(o: {
  group: string;
  version: string;
  kind: string;
  namespace: string;
  name: string;
}): string {
  const gv = o.group ? `${o.group}/${o.version}` : o.version;
  return `${gv} ${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`;
}
