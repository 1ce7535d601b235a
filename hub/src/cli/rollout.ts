/**
 * Whether a cluster runs a revision, as `driftless wait` decides it from what the hub knows.
 *
 * A cluster is **done** when every selected app (every app it runs, or the one `--app`
 * names) is synced and healthy at the revision. An app that has moved past the revision
 * counts only if the agent reported the revision applied earlier (a succeeded sync at it in
 * the hub's history) and the app is synced and healthy now: the hub cannot see Git, so it
 * cannot tell whether a later commit contains the revision; an agent follows one branch, so
 * what it applied after the revision descends from it (unless the branch was rewritten).
 *
 * A cluster has **failed** when a selected app's sync at the revision failed and the agent
 * will not retry it, when its driftless.yaml at the revision is invalid, or when it is
 * revoked. Anything else is **waiting**, with the reason.
 */
import type { Row } from './table.ts';
import { shortRev } from './table.ts';

/** What became of one cluster. */
export type RolloutState = 'done' | 'waiting' | 'failed';

/** One cluster's verdict, with the reason in words (naming the app and its message). */
export interface ClusterRollout {
  cluster: string;
  state: RolloutState;
  reason: string;
  /** Per selected app: its state and reason. */
  apps: { app: string; revision: string; state: RolloutState; reason: string }[];
}

/** What the verdict is made of, read from the hub. */
export interface RolloutInput {
  /** The waited revision: a full SHA or a prefix of at least 7 hex digits, lower case. */
  revision: string;
  /** Only this app; '' for every app of each cluster. */
  app: string;
  /** The selected clusters, as `GET /api/v1/clusters` lists them. */
  clusters: Row[];
  /** Their apps, as `GET /api/v1/apps` lists them. */
  apps: Row[];
  /** Sync history of one app of one cluster, newest first. */
  history: (cluster: string, app: string) => Promise<Row[]>;
}

/** Whether `full` is the revision `given` names. */
export const isRevision = (full: unknown, given: string): boolean =>
  typeof full === 'string' && full !== '' && full.startsWith(given);

const at = (rev: unknown) => shortRev(rev);

/** The verdict of one app of a cluster. */
async function appRollout(input: RolloutInput, a: Row): Promise<ClusterRollout['apps'][number]> {
  const name = a['app'] as string;
  const cluster = a['cluster'] as string;
  const base = { app: name, revision: a['revision'] as string };
  const status = `${a['syncStatus']}, ${a['health']}`;
  const message = (a['message'] as string) || (a['healthMessage'] as string) || '';
  const ready = a['syncStatus'] === 'synced' && a['health'] === 'healthy';
  const withMessage = (s: string) => (message ? `${s}: ${message}` : s);
  // Drift the agent holds (self-heal off) is live state that differs from the revision: said,
  // though it does not undo the sync.
  const drift = Number(a['driftCount']) || 0;
  const drifted = drift > 0 ? ` (${drift} object${drift === 1 ? '' : 's'} drifted since)` : '';
  if (isRevision(a['revision'], input.revision)) {
    if (ready)
      return {
        ...base,
        state: 'done',
        reason: `synced and healthy at ${at(a['revision'])}${drifted}`,
      };
    if (a['syncStatus'] === 'failed') {
      const [last] = (await input.history(cluster, name)).filter((s) =>
        isRevision(s['revision'], input.revision),
      );
      if (last?.['result'] === 'failed' && last['retryable'] === true)
        return { ...base, state: 'waiting', reason: withMessage(`sync failed, the agent retries`) };
      return {
        ...base,
        state: 'failed',
        reason: `sync failed at ${at(a['revision'])}: ${(last?.['error'] as string) || message || 'no message'}`,
      };
    }
    if (a['syncMode'] === 'manual' && a['syncStatus'] === 'out-of-sync')
      return {
        ...base,
        state: 'waiting',
        reason: `waits for an approval (driftless approve ${cluster}/${name})`,
      };
    return { ...base, state: 'waiting', reason: withMessage(`${status} at ${at(a['revision'])}`) };
  }
  // At another revision: earlier, or later; only the agent's own record tells.
  const applied = (await input.history(cluster, name)).some(
    (s) => s['result'] === 'succeeded' && isRevision(s['revision'], input.revision),
  );
  if (!applied)
    return {
      ...base,
      state: 'waiting',
      reason: `at ${at(a['revision'])}, not yet at ${input.revision.slice(0, 12)}`,
    };
  if (ready)
    return {
      ...base,
      state: 'done',
      reason: `applied ${input.revision.slice(0, 12)} earlier; now synced and healthy at ${at(a['revision'])}${drifted}`,
    };
  return {
    ...base,
    state: 'waiting',
    reason: withMessage(
      `applied ${input.revision.slice(0, 12)} earlier; now ${status} at ${at(a['revision'])}`,
    ),
  };
}

/** `, 2 objects drifted since` when the apps hold open drift; '' otherwise. */
function driftNote(apps: Row[]): string {
  const n = apps.reduce((sum, a) => sum + (Number(a['driftCount']) || 0), 0);
  return n > 0 ? `, ${n} object${n === 1 ? '' : 's'} drifted since` : '';
}

/** The verdict of every selected cluster. */
export async function evaluateRollout(input: RolloutInput): Promise<ClusterRollout[]> {
  const out: ClusterRollout[] = [];
  for (const c of input.clusters) {
    const name = c['name'] as string;
    const config = (c['config'] ?? {}) as Row;
    if (c['revoked']) {
      out.push({ cluster: name, state: 'failed', reason: 'the cluster is revoked', apps: [] });
      continue;
    }
    if (config['state'] === 'failed' && isRevision(config['revision'], input.revision)) {
      out.push({
        cluster: name,
        state: 'failed',
        reason: `driftless.yaml at ${at(config['revision'])} is invalid: ${config['error']}`,
        apps: [],
      });
      continue;
    }
    const apps = input.apps.filter(
      (a) => a['cluster'] === name && !a['gone'] && (!input.app || a['app'] === input.app),
    );
    if (apps.length === 0) {
      const what = input.app ? `app ${input.app} not reported yet` : 'no app reported yet';
      out.push({ cluster: name, state: 'waiting', reason: what, apps: [] });
      continue;
    }
    const verdicts = [];
    for (const a of apps) verdicts.push(await appRollout(input, a));
    const failed = verdicts.filter((v) => v.state === 'failed');
    const waiting = verdicts.filter((v) => v.state === 'waiting');
    const state: RolloutState = failed.length ? 'failed' : waiting.length ? 'waiting' : 'done';
    const notDone = failed.length ? failed : waiting;
    // A cluster whose agent went away after reporting: the verdict stands on its last report.
    const connected = c['connected']
      ? ''
      : state === 'done'
        ? ' (as last reported: the agent is not connected now)'
        : ' (the agent is not connected)';
    out.push({
      cluster: name,
      state,
      reason:
        (state === 'done'
          ? `${verdicts.length} app${verdicts.length === 1 ? '' : 's'} synced and healthy${driftNote(apps)}`
          : notDone.map((v) => `${v.app}: ${v.reason}`).join('; ')) + connected,
      apps: verdicts,
    });
  }
  return out;
}
