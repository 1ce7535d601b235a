/** `driftless wait`: until the selected clusters run a revision, synced and healthy. */
import {
  errorMessage,
  formatDuration,
  isRetryable,
  systemClock,
  type Clock,
} from '@driftless/common';
import type { HubClient } from '../client.ts';
import { CliError, defineCommand, TimedOutError, UsageError, type CliIo } from '../command.ts';
import { appFlag, clusterFlag, query, selectorFlag } from '../flags.ts';
import { getCluster, listApps, listClusters } from '../lookup.ts';
import { evaluateRollout, type ClusterRollout } from '../rollout.ts';
import { followEvents } from '../sse.ts';
import { col, renderTable, type Row } from '../table.ts';

/** Options of {@link waitForRevision}. */
export interface WaitOptions {
  client: HubClient;
  /** Full SHA or prefix (7+ hex digits), lower case. */
  revision: string;
  selector: string;
  cluster: string;
  app: string;
  /** Give up after this long, ms. */
  timeoutMs: number;
  /** Re-read the hub at least this often, even without events, ms. */
  pollMs: number;
  /** Progress lines (what is still waited for, when it changes). */
  progress: (line: string) => void;
  clock: Clock;
  signal?: AbortSignal;
}

/** Defaults of the timing options. */
export const WAIT_DEFAULTS = { timeoutMs: 10 * 60_000, pollMs: 5_000 };

/** Event types after which the verdict may have changed. */
const RELEVANT = /^(app|sync|config|cluster)\./;
/** Sync records read per app to tell whether it applied the revision earlier. */
const HISTORY_WINDOW = 200;

/** Reads the selected clusters, their apps and (when needed) history, and judges them. */
async function readRollout(o: WaitOptions): Promise<ClusterRollout[]> {
  const clusters = o.cluster
    ? [await getCluster(o.client, o.cluster)]
    : await listClusters(o.client, o.selector);
  if (clusters.length === 0)
    throw new CliError(`wait: no cluster matches ${o.selector ? `-l ${o.selector}` : 'at all'}`);
  const apps = o.cluster
    ? await listApps(o.client, { cluster: o.cluster })
    : await listApps(o.client, { selector: o.selector });
  return evaluateRollout({
    revision: o.revision,
    app: o.app,
    clusters,
    apps,
    history: async (cluster, app) =>
      (
        await o.client.call<{ items: Row[] }>(
          'GET',
          `/api/v1/history${query({ cluster, app, limit: HISTORY_WINDOW })}`,
        )
      ).items,
  });
}

/**
 * Waits until every selected cluster is done (resolves with the verdicts), one fails
 * (CliError naming cluster, app and message), or the timeout passes (TimedOutError listing
 * the clusters still not there). Re-reads the hub after each relevant event of its stream
 * and at least every `pollMs`.
 */
export async function waitForRevision(o: WaitOptions): Promise<ClusterRollout[]> {
  const deadline = o.clock.now() + o.timeoutMs;
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  // Wakes the loop early: an event came in (remembered if it came while the loop was reading).
  let changed = false;
  let wakeUp: () => void = () => {};
  const wake = () => {
    changed = true;
    wakeUp();
  };
  const following = followEvents({
    client: o.client,
    cluster: o.cluster,
    signal: stop.signal,
    onEvent: (e) => {
      if (RELEVANT.test(e.type)) wake();
    },
    onOpen: () => wake(),
  }).catch((err: unknown) => {
    o.progress(
      `event stream unavailable (${(err as Error).message}); polling every ${formatDuration(o.pollMs)}`,
    );
  });
  let last = '';
  /** Why the hub could not be read at the last attempt; '' when it could. */
  let unavailable = '';
  /** The verdicts of the last read that succeeded. */
  let latest: ClusterRollout[] | undefined;
  try {
    for (;;) {
      changed = false;
      let verdicts: ClusterRollout[];
      try {
        verdicts = await readRollout(o);
        latest = verdicts;
        if (unavailable) o.progress('the hub answers again');
        unavailable = '';
      } catch (err) {
        // A hub that answered once and now does not (restarting, its database away) is waited
        // for until the deadline; a wrong address, token or name fails at once.
        if (!latest || !isRetryable(err) || o.signal?.aborted) throw err;
        const now = o.clock.now();
        const why = errorMessage(err);
        if (now >= deadline)
          throw new WaitTimedOutError(
            `wait: timed out after ${formatDuration(o.timeoutMs)}; the hub did not answer at the end: ${why}`,
            latest,
          );
        if (why !== unavailable)
          o.progress(`hub unavailable (${why}); trying again until the timeout`);
        unavailable = why;
        await o.clock.sleep(Math.min(o.pollMs, deadline - now), o.signal).catch(() => {});
        if (o.signal?.aborted) throw new CliError('wait: interrupted');
        continue;
      }
      const failed = verdicts.filter((v) => v.state === 'failed');
      if (failed.length > 0)
        throw new WaitFailedError(
          `wait: ${failed.map((v) => `cluster ${v.cluster}: ${v.reason}`).join('; ')}`,
          verdicts,
        );
      const waiting = verdicts.filter((v) => v.state === 'waiting');
      if (waiting.length === 0) return verdicts;
      const now = o.clock.now();
      if (now >= deadline)
        throw new WaitTimedOutError(
          `wait: timed out after ${formatDuration(o.timeoutMs)}; not at ${o.revision.slice(0, 12)} yet: ${waiting.map((v) => `${v.cluster} (${v.reason})`).join('; ')}`,
          verdicts,
        );
      const line = waiting.map((v) => `${v.cluster} (${v.reason})`).join('; ');
      if (line !== last) o.progress(`waiting for ${line}`);
      last = line;
      // Until an event, the next poll or the deadline, whichever comes first.
      const woken = changed
        ? Promise.resolve()
        : new Promise<void>((resolve) => (wakeUp = resolve));
      const nap = new AbortController();
      await Promise.race([
        woken,
        o.clock.sleep(Math.min(o.pollMs, deadline - now), nap.signal).catch(() => {}),
      ]);
      nap.abort();
      if (o.signal?.aborted) throw new CliError('wait: interrupted');
    }
  } finally {
    stop.abort();
    o.signal?.removeEventListener('abort', onAbort);
    await following;
  }
}

/** A selected cluster failed; carries every verdict for `-o json`. */
export class WaitFailedError extends CliError {
  override name = 'WaitFailedError';
  /** Every selected cluster's verdict. */
  readonly verdicts: ClusterRollout[];
  constructor(message: string, verdicts: ClusterRollout[]) {
    super(message);
    this.verdicts = verdicts;
  }
}

/** The timeout passed; carries every verdict for `-o json`. */
export class WaitTimedOutError extends TimedOutError {
  override name = 'WaitTimedOutError';
  /** Every selected cluster's verdict. */
  readonly verdicts: ClusterRollout[];
  constructor(message: string, verdicts: ClusterRollout[]) {
    super(message);
    this.verdicts = verdicts;
  }
}

const HELP = `Waits until every selected cluster (-l, or --cluster; every cluster when neither)
runs REVISION: each of its apps (or only --app) synced and healthy at that commit. For CI
pipelines that promote dev -> staging -> prod:

  git push && driftless wait --revision "$(git rev-parse HEAD)" -l env=staging --timeout 10m

A hub that stops answering once the wait has begun (a restart, its database away) is waited
for until --timeout; a wrong --hub, token or cluster fails at once.

Exit codes: 0 when every selected cluster is there; 1 at once when a sync at the revision
failed (and the agent will not retry it), the cluster's driftless.yaml at the revision is
invalid, the cluster is revoked, or no cluster matches (the message names the cluster, the
app and why); 3 when --timeout passes first, listing the clusters still not there and why
(e.g. "podinfo: waits for an approval").

A cluster that has already moved past REVISION counts only if its agent reported REVISION
applied earlier (a succeeded sync at it in the hub's history) and the app is synced and
healthy now. The hub cannot see Git, so it cannot check that the later commit contains
REVISION; an agent follows one branch, so a later commit it applied descends from REVISION
unless the branch was rewritten. A cluster that skipped REVISION (two pushes in quick
succession) is reported as not there: wait for the newer commit instead.

The command follows the hub's event stream and re-reads the hub after each relevant event,
and at least every --poll-interval.`;

/** The wait command. */
export const waitCommands = [
  defineCommand({
    name: 'wait',
    usage: '--revision SHA [-l SELECTOR | --cluster C] [--app A] [--timeout 10m]',
    summary: 'wait until the selected clusters run a revision, synced and healthy',
    description: HELP,
    flags: {
      revision: {
        type: 'string',
        default: '',
        help: 'The commit to wait for: its full SHA or a prefix of at least 7 hex digits.',
      },
      selector: selectorFlag,
      cluster: clusterFlag,
      app: appFlag,
      timeout: {
        type: 'duration',
        default: WAIT_DEFAULTS.timeoutMs,
        help: 'Give up (exit code 3) after this long, e.g. 30s, 10m.',
      },
      pollInterval: {
        type: 'duration',
        default: WAIT_DEFAULTS.pollMs,
        help: 'Re-read the hub at least this often, besides after each event.',
      },
    },
    async run({ client, flags, io, print }) {
      const revision = flags.revision.toLowerCase();
      if (!/^[0-9a-f]{7,64}$/.test(revision))
        throw new UsageError(
          flags.revision
            ? `wait: --revision "${flags.revision}" is not a commit SHA (7 to 64 hex digits)`
            : 'wait: --revision is required',
        );
      if (flags.cluster && flags.selector)
        throw new UsageError('wait: give either --cluster or -l, not both');
      const show = (verdicts: ClusterRollout[]) =>
        print({ revision, clusters: verdicts }, () => rolloutTable(verdicts));
      try {
        const verdicts = await waitForRevision({
          client,
          revision,
          selector: flags.selector,
          cluster: flags.cluster,
          app: flags.app,
          timeoutMs: flags.timeout,
          pollMs: Math.max(100, flags.pollInterval),
          progress: progressTo(io),
          clock: systemClock,
          ...(io.signal ? { signal: io.signal } : {}),
        });
        show(verdicts);
        return 0;
      } catch (err) {
        if (err instanceof WaitFailedError || err instanceof WaitTimedOutError) show(err.verdicts);
        throw err;
      }
    },
  }),
];

/** Progress to stderr, so stdout carries only the result. */
const progressTo = (io: CliIo) => (line: string) =>
  io.stderr(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

function rolloutTable(verdicts: ClusterRollout[]): string {
  return renderTable(verdicts as unknown as Row[], [
    col('cluster', (r) => r['cluster']),
    col('state', (r) => r['state']),
    col('message', (r) => r['reason']),
  ]);
}
