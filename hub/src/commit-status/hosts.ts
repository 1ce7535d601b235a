/**
 * The commit-status APIs of GitHub, GitLab and Gitea: the request each documents, its state
 * names and its field limits, and one post through the outbound guard.
 *
 * - GitHub: `POST /repos/{owner}/{repo}/statuses/{sha}`, body `state` (error, failure, pending,
 *   success), `target_url`, `description`, `context`; `Authorization: Bearer`; REST API docs,
 *   "Create a commit status". A description over 140 characters is refused with 422.
 * - GitLab: `POST /projects/:id/statuses/:sha` (`:id` the URL-encoded project path), body
 *   `state` (pending, running, success, failed, canceled), `name`, `target_url`,
 *   `description`; `PRIVATE-TOKEN` header; "Commits API", "Set the pipeline status of a
 *   commit". Its columns hold 255 characters.
 * - Gitea: `POST /repos/{owner}/{repo}/statuses/{sha}` under `/api/v1`, body `state` (pending,
 *   success, error, failure, warning), `target_url`, `description`, `context`;
 *   `Authorization: token`; its swagger `CreateStatusOption`. Its columns are unbounded text;
 *   we keep to 1000 characters.
 */
import { DriftlessError } from '@driftless/common';
import {
  answerLine,
  ForbiddenDestinationError,
  readHead,
  unanswered,
  type Answered,
  type OutboundGuard,
} from '../outbound/index.ts';
import type { CommitState, GitHostKind } from '../store/commit-statuses.ts';
import { HUB_USER_AGENT } from '../user-agent.ts';

/** Every host kind, for flags and validation. */
export const GIT_HOST_KINDS: readonly GitHostKind[] = ['github', 'gitlab', 'gitea'];

/** Field lengths each host accepts (characters). */
export interface HostLimits {
  description: number;
  context: number;
  targetUrl: number;
}

/** The limits of each host's commit-status fields. */
export const HOST_LIMITS: Readonly<Record<GitHostKind, HostLimits>> = {
  github: { description: 140, context: 255, targetUrl: 2048 },
  gitlab: { description: 255, context: 255, targetUrl: 255 },
  gitea: { description: 1000, context: 255, targetUrl: 2048 },
};

/** How each host names our states; a superseded commit has no state of its own anywhere. */
export const HOST_STATES: Readonly<Record<GitHostKind, Readonly<Record<CommitState, string>>>> = {
  // GitHub has no "cancelled" status: `error` ("could not be determined") is the honest one.
  github: { pending: 'pending', success: 'success', failure: 'failure', superseded: 'error' },
  // Agents are working on the commit: GitLab's `running`; a superseded commit is `canceled`.
  gitlab: { pending: 'running', success: 'success', failure: 'failed', superseded: 'canceled' },
  gitea: { pending: 'pending', success: 'success', failure: 'failure', superseded: 'warning' },
};

/** The API root a host kind has by default, for a `match` of `host[:port]`. */
export function defaultApiUrl(kind: GitHostKind, match: string): string {
  const host = match.split('/')[0] ?? match;
  if (kind === 'github')
    return host === 'github.com' ? 'https://api.github.com' : `https://${host}/api/v3`;
  if (kind === 'gitlab') return `https://${host}/api/v4`;
  return `https://${host}/api/v1`;
}

/** One status to post. */
export interface StatusPost {
  kind: GitHostKind;
  /** API root, e.g. `https://api.github.com`, `https://gitlab.example.com/api/v4`. */
  apiUrl: string;
  token: string;
  /** `owner/repo` (GitHub, Gitea) or the full project path (GitLab). */
  repoPath: string;
  sha: string;
  state: CommitState;
  description: string;
  context: string;
  targetUrl: string;
}

/** An HTTP request as {@link buildStatusRequest} makes it. */
export interface StatusRequest {
  method: 'POST';
  url: string;
  headers: Record<string, string>;
  body: Record<string, string>;
}

/** A repository path the host's API cannot name (e.g. a GitHub path of three segments). */
export class RepoPathError extends DriftlessError {
  override name = 'RepoPathError';
}

/** Shortens `text` to `max` characters, ending in `…` when cut. */
export function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** The documented request for `p`, its fields cut to the host's limits. */
export function buildStatusRequest(p: StatusPost): StatusRequest {
  const limits = HOST_LIMITS[p.kind];
  const api = p.apiUrl.replace(/\/+$/, '');
  const sha = encodeURIComponent(p.sha);
  const state = HOST_STATES[p.kind][p.state];
  const description = clip(p.description, limits.description);
  const context = clip(p.context, limits.context);
  const target = p.targetUrl.length <= limits.targetUrl ? p.targetUrl : '';
  const json = { 'Content-Type': 'application/json', 'User-Agent': HUB_USER_AGENT };
  if (p.kind === 'gitlab')
    return {
      method: 'POST',
      url: `${api}/projects/${encodeURIComponent(p.repoPath)}/statuses/${sha}`,
      headers: { ...json, Accept: 'application/json', 'PRIVATE-TOKEN': p.token },
      body: { state, name: context, description, ...(target ? { target_url: target } : {}) },
    };
  const [owner, repo, ...rest] = p.repoPath.split('/');
  if (!owner || !repo || rest.length)
    throw new RepoPathError(
      `repository path ${p.repoPath}: ${p.kind} names repositories as owner/repo`,
    );
  const url = `${api}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/statuses/${sha}`;
  const body = { state, context, description, ...(target ? { target_url: target } : {}) };
  if (p.kind === 'github')
    return {
      method: 'POST',
      url,
      headers: {
        ...json,
        Accept: 'application/vnd.github+json',
        'X-GitHub-Api-Version': '2022-11-28',
        Authorization: `Bearer ${p.token}`,
      },
      body,
    };
  return {
    method: 'POST',
    url,
    headers: { ...json, Accept: 'application/json', Authorization: `token ${p.token}` },
    body,
  };
}

/**
 * A host refused or failed a post; `status` is its HTTP status (0: no answer), for `classify`.
 * What the host answered (its `message`) is in `answer`, never in the message.
 */
export class StatusPostError extends DriftlessError implements Answered {
  override name = 'StatusPostError';
  readonly status: number | undefined;
  readonly answer: string;

  constructor(
    message: string,
    options: { status?: number; cause?: unknown; answer?: string } = {},
  ) {
    super(message, { cause: options.cause });
    this.status = options.status;
    this.answer = options.answer ?? '';
  }
}

/** How long one post may take, ms. */
export const POST_TIMEOUT_MS = 10_000;

/**
 * Posts one status through `guard` (which addresses may be reached; redirects are not
 * followed) and returns the host's HTTP status (2xx). Throws {@link StatusPostError} naming
 * the host, repository and commit, with the host's own message as its `answer`; the guard's
 * ForbiddenDestinationError when the API root may not be reached. The token is never part of
 * either.
 */
export async function postStatus(
  p: StatusPost,
  guard: OutboundGuard,
  timeoutMs = POST_TIMEOUT_MS,
): Promise<number> {
  const req = buildStatusRequest(p);
  const what = `post ${p.state} status to ${p.kind} ${hostOf(req.url)} for ${p.repoPath}@${p.sha.slice(0, 7)}`;
  let res: Response;
  try {
    res = await guard.fetch(what, req.url, {
      method: req.method,
      headers: req.headers,
      body: JSON.stringify(req.body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    if (err instanceof ForbiddenDestinationError) throw err;
    // The code for everyone; the detail (address, certificate names) is for admins.
    const u = unanswered(err, (text) => scrub(text, p.token));
    throw new StatusPostError(`${what}: cannot reach the host${u.label ? ` (${u.label})` : ''}`, {
      cause: u.cause,
      answer: u.answer,
    });
  }
  const text = await readHead(res);
  if (res.ok) return res.status;
  if (res.status >= 300 && res.status <= 399)
    throw new StatusPostError(
      `${what}: HTTP ${res.status}: a redirect, which the hub does not follow; set the API URL it redirects to`,
      { status: res.status },
    );
  throw new StatusPostError(`${what}: HTTP ${res.status}`, {
    status: res.status,
    answer: hostMessage(text, p.token),
  });
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'host';
  }
}

/** The host's `message` (all three answer errors as `{ "message": … }`), short and scrubbed. */
function hostMessage(body: string, token: string): string {
  let message = '';
  try {
    const parsed = JSON.parse(body) as { message?: unknown; error?: unknown };
    const m = parsed.message ?? parsed.error;
    message = typeof m === 'string' ? m : m === undefined ? '' : JSON.stringify(m);
  } catch {
    message = '';
  }
  return answerLine(scrub(message, token));
}

function scrub(text: string, token: string): string {
  return token ? text.split(token).join('[token]') : text;
}
