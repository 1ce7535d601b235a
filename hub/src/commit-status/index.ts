/**
 * Git commit statuses: for each commit the agents report, one status per cluster (or per
 * value of a cluster label) on the repository's GitHub, GitLab or Gitea — pending while the
 * agents sync it, success once every app there is synced and healthy, failure with the
 * message, superseded when a newer commit came first. See docs/commit-status.md.
 */
import type { Clock, Logger } from '@driftless/common';
import type { EventBus } from '../events.ts';
import type { OutboundGuard } from '../outbound/index.ts';
import type { SecretBox } from '../secrets/index.ts';
import type { Store } from '../store/index.ts';
import { CommitStatusEngine } from './engine.ts';
import { StatusPoster } from './poster.ts';

export { CommitStatusEngine, ENGINE_DEFAULTS, type CommitStatusEngineOptions } from './engine.ts';
export { evaluateScope, TRANSITIONS, type Decision, type ScopeInput } from './evaluate.ts';
export {
  buildStatusRequest,
  defaultApiUrl,
  GIT_HOST_KINDS,
  HOST_LIMITS,
  HOST_STATES,
  postStatus,
  StatusPostError,
  type StatusPost,
  type StatusRequest,
} from './hosts.ts';
export { hostTokenContext, POSTER_DEFAULTS, StatusPoster } from './poster.ts';
export { matchHost, parseMatch, parseRepoUrl, type RepoLocation } from './remote.ts';

/** What {@link startCommitStatus} needs. */
export interface CommitStatusOptions {
  store: Store;
  events: EventBus;
  secrets: Pick<SecretBox, 'open'>;
  log: Logger;
  clock: Clock;
  /** See {@link CommitStatusEngineOptions.labelKey}. */
  labelKey: string;
  /** See {@link CommitStatusEngineOptions.dashboardUrl}. */
  dashboardUrl: string;
  /** Which addresses posts may go to (`--allow-private-destinations`). */
  guard: OutboundGuard;
}

/** The running engine and poster. */
export interface CommitStatusService {
  engine: CommitStatusEngine;
  poster: StatusPoster;
  stop(): Promise<void>;
}

/** Starts the engine (listening to `events`) and the poster. */
export function startCommitStatus(o: CommitStatusOptions): CommitStatusService {
  const log = o.log.child({ component: 'commit-status' });
  const poster = new StatusPoster({
    store: o.store,
    secrets: o.secrets,
    log,
    clock: o.clock,
    guard: o.guard,
  });
  const engine = new CommitStatusEngine({
    store: o.store,
    events: o.events,
    log,
    clock: o.clock,
    labelKey: o.labelKey,
    dashboardUrl: o.dashboardUrl,
    onDecided: () => poster.kick(),
  });
  poster.start();
  engine.start();
  return {
    engine,
    poster,
    stop: async () => {
      await engine.stop();
      await poster.stop();
    },
  };
}
