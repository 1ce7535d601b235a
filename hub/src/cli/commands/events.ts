/** `driftless events`: follow the hub's event stream, filtered. */
import { stringify as yamlText } from 'yaml';
import { HUB_EVENT_TYPES } from '../../events.ts';
import { defineCommand, UsageError } from '../command.ts';
import { clusterFlag, selectorFlag } from '../flags.ts';
import { getCluster, listClusters } from '../lookup.ts';
import { followEvents, type StreamEvent } from '../sse.ts';
import { timeText, type Row } from '../table.ts';

/** Whether event type `type` matches one `--type` pattern: `sync.recorded`, `drift` or `drift.*`. */
export function typeMatches(type: string, pattern: string): boolean {
  const p = pattern.replace(/\.\*$/, '');
  return type === p || type.startsWith(`${p}.`);
}

/**
 * Refuses a `--type` pattern no event type matches (`sync.recorde`, `drfit`): the stream
 * would otherwise be followed, silently, forever.
 */
export function checkTypePatterns(patterns: readonly string[]): void {
  const unknown = patterns.filter((p) => !HUB_EVENT_TYPES.some((t) => typeMatches(t, p)));
  if (unknown.length)
    throw new UsageError(
      `events: --type ${unknown.map((p) => `"${p}"`).join(', ')} matches no event type; the types are ${HUB_EVENT_TYPES.join(', ')}`,
    );
}

/** `text` broken into lines of at most 92 characters, the first `indent` characters shorter. */
function wrapped(text: string, indent: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const width = 92 - (lines.length === 0 ? indent : 0);
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line].join('\n');
}

/** A value for one line: 40- and 64-hex digests shortened to 12 characters. */
const short = (v: unknown): string => {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /^[0-9a-f]{40,64}$/.test(s) ? s.slice(0, 12) : s;
};

/** One event as a line: `TIME TYPE CLUSTER/APP key=value ...`. */
export function eventLine(e: Row): string {
  const target = [e['cluster'], e['app']].filter(Boolean).join('/') || '-';
  const details = Object.entries((e['data'] ?? {}) as Row)
    .map(([k, v]) => `${k}=${short(v)}`)
    .join(' ');
  const at = typeof e['atMs'] === 'number' ? new Date(e['atMs']).toISOString() : '';
  return `${timeText(at)}  ${String(e['type']).padEnd(20)}  ${target.padEnd(24)}  ${details}`.trimEnd();
}

/** The events command. */
export const eventCommands = [
  defineCommand({
    name: 'events',
    usage: '[--type T,...] [--cluster C] [-l SELECTOR] [--count N]',
    summary: "follow the hub's events (syncs, drift, approvals, connections) as they happen",
    description: `Prints each event as it happens until Ctrl-C (or --count events). Table output is one
line per event; -o json prints one JSON object per line (the hub's event: id, type, atMs,
cluster, app, data), -o yaml one YAML document per event. The stream reconnects by itself
after a break (sending Last-Event-ID); the hub does not replay what it sent while the stream
was down, so a gap is reported on stderr.

Types: ${wrapped(`${HUB_EVENT_TYPES.join(', ')}.`, 'Types: '.length)}
--type takes full types or their first word (drift, drift.* and drift.updated all match
drift.updated); one that matches no type is refused (exit 2).

Examples:
  driftless events --type sync.recorded,drift -l env=prod
  driftless events --cluster dev -o json --count 1`,
    flags: {
      type: {
        type: 'list',
        default: [],
        help: 'Only these event types (comma-separated; a first word like drift matches drift.*).',
      },
      cluster: clusterFlag,
      selector: selectorFlag,
      count: {
        type: 'number',
        default: 0,
        help: 'Stop after this many events (0: follow until interrupted).',
      },
    },
    async run({ client, flags, io, output }) {
      checkTypePatterns(flags.type);
      // A misspelt cluster would otherwise be followed, silently, forever.
      if (flags.cluster) await getCluster(client, flags.cluster);
      const stop = new AbortController();
      const onAbort = () => stop.abort();
      io.signal?.addEventListener('abort', onAbort, { once: true });
      // The clusters -l matches, re-read when an event names a cluster not seen yet.
      const selected = new Map<string, boolean>();
      const matches = async (cluster: string | undefined): Promise<boolean> => {
        if (!flags.selector) return true;
        if (!cluster) return false;
        if (!selected.has(cluster)) {
          const names = new Set(
            (await listClusters(client, flags.selector)).map((c) => c['name'] as string),
          );
          selected.set(cluster, names.has(cluster));
        }
        return selected.get(cluster) ?? false;
      };
      let printed = 0;
      const onEvent = async (e: StreamEvent) => {
        const ev = (
          typeof e.data === 'object' && e.data !== null ? e.data : { type: e.type }
        ) as Row;
        if (flags.type.length > 0 && !flags.type.some((p) => typeMatches(e.type, p))) return;
        if (!(await matches(ev['cluster'] as string | undefined))) return;
        // Events are matched concurrently: one that finished matching after --count was reached
        // is not printed.
        if (flags.count > 0 && printed >= flags.count) return;
        io.stdout(
          output === 'json'
            ? `${JSON.stringify(ev)}\n`
            : output === 'yaml'
              ? `---\n${yamlText(ev)}`
              : `${eventLine(ev)}\n`,
        );
        printed++;
        if (flags.count > 0 && printed >= flags.count) stop.abort();
      };
      try {
        await followEvents({
          client,
          cluster: flags.cluster,
          signal: stop.signal,
          onEvent,
          onOpen: (reconnect) => {
            if (!reconnect)
              io.stderr(`driftless: following the events of ${client.base} (Ctrl-C to stop)\n`);
            else
              io.stderr(
                'driftless: event stream reconnected; events sent meanwhile are not replayed\n',
              );
          },
          onRetry: (err, delayMs) =>
            io.stderr(
              `driftless: event stream broke (${(err as Error).message}); reconnecting in ${Math.round(delayMs / 100) / 10} s\n`,
            ),
        });
      } finally {
        io.signal?.removeEventListener('abort', onAbort);
      }
      return 0;
    },
  }),
];
