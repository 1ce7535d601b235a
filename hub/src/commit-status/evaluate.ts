/**
 * The commit-status state machine, as a pure function of what the store holds for one scope
 * (one cluster, or the clusters of one label value, following one repository):
 *
 *   (none) ──▶ pending ──▶ success
 *                 │  └────▶ failure ──▶ success   (a retry or a later health check passed)
 *                 └───────▶ superseded            (a newer commit took its place first)
 *
 * `success` and `superseded` are final; `failure` turns into `success` when the same commit
 * later syncs and is healthy, never back into `pending` (a retry would flicker the status),
 * and keeps its first message. So a commit gets a handful of posts per context at most.
 */
import type { CommitState } from '../store/commit-statuses.ts';
import type { AppRecord, ConfigStateRecord } from '../store/index.ts';

/** Which stored states may change into each state ({@link TRANSITIONS}[to] lists the froms). */
export const TRANSITIONS: Readonly<Record<CommitState, readonly (CommitState | 'none')[]>> = {
  pending: ['none', 'pending'],
  // Not from failure: a retrying agent rewrites its message each attempt, and GitHub keeps at
  // most 1000 statuses per commit and context; the first failure's message stands.
  failure: ['none', 'pending'],
  success: ['none', 'pending', 'failure'],
  superseded: ['pending'],
};

/** What one scope looks like now. */
export interface ScopeInput {
  /** Clusters in the scope: more than one names each app `cluster/app` in descriptions. */
  clusters: string[];
  /** Every app of the scope's clusters (gone and dry-run apps are left out here). */
  apps: Pick<
    AppRecord,
    | 'cluster'
    | 'app'
    | 'revision'
    | 'syncStatus'
    | 'syncMode'
    | 'health'
    | 'healthMessage'
    | 'message'
    | 'updatedMs'
    | 'gone'
  >[];
  /** The driftless.yaml state of the scope's clusters (the newest commit each agent read). */
  configs: Pick<ConfigStateRecord, 'cluster' | 'revision' | 'valid' | 'error' | 'updatedMs'>[];
  /** The commits of this scope whose status is `pending` now (to supersede). */
  pending: string[];
}

/** What a commit's status should become, and from which stored states it may. */
export interface Decision {
  sha: string;
  state: CommitState;
  description: string;
  supersededBy: string;
  /** The stored states this decision may replace (see {@link TRANSITIONS}). */
  from: readonly (CommitState | 'none')[];
}

const short = (sha: string) => sha.slice(0, 7);

/**
 * Decides the status of every commit the scope's agents are at, or were at while pending:
 * - `failure` when an app at the commit failed its sync (or is degraded after it), or the
 *   commit's driftless.yaml is invalid, with that message;
 * - `success` when every app of the scope is at the commit, synced and healthy, and every
 *   cluster of the scope reported apps at it;
 * - `pending` otherwise, for the newest commit (older ones only keep a status they have);
 * - `superseded` for a pending commit no app and no config is at any more.
 */
export function evaluateScope(input: ScopeInput): Decision[] {
  const apps = input.apps.filter((a) => !a.gone && a.syncMode !== 'dry-run' && a.revision);
  const many = input.clusters.length > 1;
  const name = (a: { cluster: string; app: string }) => (many ? `${a.cluster}/${a.app}` : a.app);
  const seen = new Map<string, number>();
  const note = (sha: string, ms: number) => seen.set(sha, Math.max(seen.get(sha) ?? 0, ms));
  for (const a of apps) note(a.revision, a.updatedMs);
  for (const c of input.configs) if (c.revision) note(c.revision, c.updatedMs);
  if (seen.size === 0) return [];
  const head = [...seen].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]))[0]![0];

  const decisions: Decision[] = [];
  for (const sha of seen.keys()) {
    const at = apps.filter((a) => a.revision === sha);
    const decision = decideCommit(sha, at, apps.length, input, name);
    // An older commit only keeps its status up to date; a new status starts with the head.
    if (sha !== head) decision.from = decision.from.filter((f) => f !== 'none');
    decisions.push(decision);
  }
  for (const sha of input.pending)
    if (!seen.has(sha))
      decisions.push({
        sha,
        state: 'superseded',
        // In a scope of several clusters some may have applied it: it did not reach them all.
        description: many
          ? `superseded by ${short(head)} before it reached every cluster`
          : `superseded by ${short(head)} before it was synced`,
        supersededBy: head,
        from: TRANSITIONS.superseded,
      });
  return decisions;
}

function decideCommit(
  sha: string,
  at: ScopeInput['apps'],
  total: number,
  input: ScopeInput,
  name: (a: { cluster: string; app: string }) => string,
): Decision {
  const decide = (state: CommitState, description: string): Decision => ({
    sha,
    state,
    description,
    supersededBy: '',
    from: TRANSITIONS[state],
  });
  const badConfig = input.configs.find((c) => c.revision === sha && !c.valid);
  if (badConfig) {
    const who = input.clusters.length > 1 ? `${badConfig.cluster}: ` : '';
    return decide('failure', `${who}driftless.yaml invalid: ${firstLine(badConfig.error)}`);
  }
  const failed = at.find((a) => a.syncStatus === 'failed');
  if (failed) return decide('failure', `${name(failed)} failed: ${firstLine(failed.message)}`);
  const degraded = at.find((a) => a.syncStatus === 'synced' && a.health === 'degraded');
  if (degraded)
    return decide(
      'failure',
      `${name(degraded)} degraded: ${firstLine(degraded.healthMessage || degraded.message)}`,
    );
  const done = at.filter((a) => a.syncStatus === 'synced' && a.health === 'healthy');
  // A cluster of the scope that reported no app at the commit (not connected yet, or still
  // on an older commit) has not got it: no success while one is missing.
  const reached = new Set(at.map((a) => a.cluster));
  const everywhere = input.clusters.every((c) => reached.has(c));
  if (total > 0 && everywhere && at.length === total && done.length === total) {
    const where = input.clusters.length > 1 ? ` on ${input.clusters.length} clusters` : '';
    return decide('success', `${total} app(s) synced and healthy${where}`);
  }
  const waiting = at.filter((a) => a.syncStatus === 'out-of-sync');
  if (waiting.length)
    return decide('pending', `waiting for approval: ${waiting.map(name).sort().join(', ')}`);
  return decide('pending', `syncing ${short(sha)}`);
}

function firstLine(text: string): string {
  return (text.split('\n')[0] ?? '').trim() || 'no detail given';
}
