import type { Labels, NotificationSeverity } from '../store/index.ts';

/**
 * The kinds of notification the hub sends, each a transition of something it
 * already tracks (docs/notifications.md lists them with their fields).
 */
export const NOTIFICATION_KINDS = [
  'sync.succeeded',
  'sync.failed',
  'health.degraded',
  'health.recovered',
  'drift.detected',
  'drift.fighting',
  'drift.healed',
  'approval.waiting',
  'approval.approved',
  'cluster.disconnected',
  'cluster.reconnected',
  'config.error',
  'config.fixed',
  'notify.summary',
  'notify.test',
] as const;

/** One kind of notification. */
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

/** Severities, lowest first. */
export const SEVERITIES: readonly NotificationSeverity[] = ['info', 'warning', 'error'];

/** Whether `s` is at least `min`. */
export function severityAtLeast(s: NotificationSeverity, min: NotificationSeverity): boolean {
  return SEVERITIES.indexOf(s) >= SEVERITIES.indexOf(min);
}

/** How the event reads: bad news, good news (a recovery or success), or neither. */
export type Outcome = 'bad' | 'good' | 'neutral';

/**
 * One notification, as every destination receives it (the generic webhook sends
 * exactly this object; docs/notifications.md has its JSON schema).
 */
export interface NotificationEvent {
  /** Schema version of this object. */
  version: 1;
  /** The same on every hub replica: `<subject>#<episode>:<kind>`; the dedupe key. */
  key: string;
  kind: NotificationKind;
  severity: NotificationSeverity;
  outcome: Outcome;
  /** When the hub derived it, ms since the epoch. */
  atMs: number;
  /** One line for people, e.g. `sync failed: prod-eu/web at 1a2b3c4`. */
  title: string;
  /** The detail: the error, the health message, the drifted objects; '' when none. */
  message: string;
  /** '' for fleet-wide events (summaries, tests). */
  cluster: string;
  labels: Labels;
  /** '' for cluster events. */
  app: string;
  /** Git commit the event is about; '' when none. */
  revision: string;
  /** Links, '' when unknown. */
  links: { commit: string; trace: string; dashboard: string };
  /**
   * The alert this event opens or closes (`firing: false` resolves it), for
   * destinations with alert state (Alertmanager); absent for one-off events.
   */
  alert?: { name: string; firing: boolean; severity: NotificationSeverity };
}

/** Where links in notifications point: the hub's own settings. */
export interface LinkSettings {
  /** The dashboard's base URL (`--public-url`); '' leaves dashboard links out. */
  publicUrl: string;
  /** `--commit-url-template` ({repo}, {revision}, {cluster}, {app}); '' to guess from the host. */
  commitUrlTemplate: string;
  /** `--trace-url-template` ({traceId}); '' leaves trace links out. */
  traceUrlTemplate: string;
}

/** Hosts whose commit pages have a known address, by the path between repository and revision. */
const COMMIT_PATHS: Record<string, string> = {
  'github.com': '/commit/',
  'gitlab.com': '/-/commit/',
  'bitbucket.org': '/commits/',
  'codeberg.org': '/commit/',
};

/**
 * The web page of `revision` in the repository at `repoUrl`: from the
 * template when set, otherwise for known hosts (GitHub, GitLab, Bitbucket,
 * Codeberg); '' when neither applies.
 */
export function commitLink(
  s: LinkSettings,
  v: { repoUrl: string; revision: string; cluster: string; app: string },
): string {
  if (!v.revision || !v.repoUrl) return '';
  const repo = webRepo(v.repoUrl);
  if (!repo) return '';
  if (s.commitUrlTemplate)
    return fill(s.commitUrlTemplate, {
      repo: repo.url,
      revision: v.revision,
      cluster: v.cluster,
      app: v.app,
    });
  const path = COMMIT_PATHS[repo.host];
  return path ? `${repo.url}${path}${encodeURIComponent(v.revision)}` : '';
}

/** The trace link of a trace id, '' without template or id. */
export function traceLink(s: LinkSettings, traceId: string): string {
  return s.traceUrlTemplate && traceId ? fill(s.traceUrlTemplate, { traceId }) : '';
}

/** The dashboard page of a cluster (and app), '' without `publicUrl`. */
export function dashboardLink(s: LinkSettings, cluster: string, app = ''): string {
  if (!s.publicUrl) return '';
  const base = s.publicUrl.replace(/\/+$/, '');
  const parts = ['clusters', cluster, ...(app ? ['apps', app] : [])];
  return cluster ? `${base}/#/${parts.map(encodeURIComponent).join('/')}` : `${base}/`;
}

/** `https://host/owner/repo` of a clone URL (https or scp-like ssh), credentials dropped. */
function webRepo(repoUrl: string): { url: string; host: string } | undefined {
  const scp = /^[\w.-]+@([\w.-]+):(.+?)(?:\.git)?\/?$/.exec(repoUrl);
  if (scp) return { url: `https://${scp[1]}/${scp[2]}`, host: scp[1]!.toLowerCase() };
  try {
    const u = new URL(repoUrl);
    if (!['http:', 'https:', 'ssh:'].includes(u.protocol)) return undefined;
    const path = u.pathname.replace(/\/+$/, '').replace(/\.git$/, '');
    const scheme = u.protocol === 'http:' ? 'http' : 'https';
    const port = u.protocol === 'ssh:' ? '' : u.port ? `:${u.port}` : '';
    return { url: `${scheme}://${u.hostname}${port}${path}`, host: u.hostname.toLowerCase() };
  } catch {
    return undefined;
  }
}

/** Fills `{name}` placeholders, each value URL-encoded but `{repo}` (a URL itself); '' unless http(s). */
function fill(template: string, values: Record<string, string>): string {
  const url = template.replace(/\{(\w+)\}/g, (m, k: string) => {
    const v = values[k];
    if (v === undefined) return m;
    return k === 'repo' ? v : encodeURIComponent(v);
  });
  return /^https?:\/\//i.test(url) ? url : '';
}
