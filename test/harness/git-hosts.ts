/**
 * HTTP receivers of GitHub's, GitLab's and Gitea's commit-status APIs, for tests: each checks
 * every request against the host's documented request (method, path, auth header, JSON body
 * fields and their enums and lengths) and answers like the host: 201 with the status JSON,
 * 401 for a missing or wrong token, 404 for a repository it does not host, 422 (400 on
 * GitLab) for an invalid body. `failNext` makes it answer 500 a number of times first.
 *
 * Sources of the shapes: GitHub REST "Create a commit status"; GitLab "Commits API: set the
 * pipeline status of a commit"; Gitea's swagger `CreateStatusOption` / `CommitStatus`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Which host's API a receiver speaks. */
export type GitHostKind = 'github' | 'gitlab' | 'gitea';

/** A status the receiver accepted, in our terms. */
export interface ReceivedStatus {
  /** `owner/repo`, or the GitLab project path. */
  repo: string;
  sha: string;
  /** The host's state name (e.g. GitLab `running`). */
  state: string;
  /** GitHub and Gitea `context`, GitLab `name`. */
  context: string;
  description: string;
  targetUrl: string;
  atMs: number;
}

/** Every request, whatever the answer. */
export interface HostRequest {
  method: string;
  path: string;
  status: number;
  /** Why it was refused; '' when accepted. */
  refusal: string;
  /** The raw auth header value, so a test can check what token was used. */
  auth: string;
}

/** A running receiver. */
export interface GitHostReceiver {
  kind: GitHostKind;
  /** The API root to configure on the hub: `http://127.0.0.1:PORT` (+ `/api/v4`, `/api/v1`). */
  apiUrl: string;
  /** Accepted statuses, oldest first. */
  statuses: ReceivedStatus[];
  requests: HostRequest[];
  /** Answers the next `times` requests with `status` (e.g. 500) before checking them. */
  failNext(times: number, status?: number): void;
  stop(): Promise<void>;
}

/** Options of {@link startGitHostReceiver}. */
export interface GitHostReceiverOptions {
  kind: GitHostKind;
  /** The only token accepted. */
  token: string;
  /** Repository paths it hosts; others are 404. */
  repos: string[];
}

interface HostSpec {
  /** Path prefix of the API root. */
  root: string;
  /** Parses the path into repository and sha, or undefined. */
  route(path: string): { repo: string; sha: string } | undefined;
  authOk(req: IncomingMessage, token: string): boolean;
  states: readonly string[];
  contextField: 'context' | 'name';
  descriptionMax: number;
  fields: readonly string[];
  invalidStatus: number;
  unauthorized: unknown;
}

const SHA = '([0-9a-f]{40})';
const SEGMENT = '([A-Za-z0-9_.-]+)';

const SPECS: Record<GitHostKind, HostSpec> = {
  github: {
    root: '',
    route: (p) => ownerRepo(new RegExp(`^/repos/${SEGMENT}/${SEGMENT}/statuses/${SHA}$`).exec(p)),
    authOk: (req, token) => req.headers.authorization === `Bearer ${token}`,
    states: ['error', 'failure', 'pending', 'success'],
    contextField: 'context',
    descriptionMax: 140,
    fields: ['state', 'target_url', 'description', 'context'],
    invalidStatus: 422,
    unauthorized: { message: 'Bad credentials', status: '401' },
  },
  gitlab: {
    root: '/api/v4',
    route: (p) => {
      // The project id is the URL-encoded path: one segment, slashes as %2F.
      const m = new RegExp(`^/api/v4/projects/([^/]+)/statuses/${SHA}$`).exec(p);
      if (!m) return undefined;
      const repo = decodeURIComponent(m[1] ?? '');
      return repo.includes('/') ? { repo, sha: m[2] ?? '' } : undefined;
    },
    authOk: (req, token) => req.headers['private-token'] === token,
    states: ['pending', 'running', 'success', 'failed', 'canceled'],
    contextField: 'name',
    descriptionMax: 255,
    fields: [
      'state',
      'ref',
      'name',
      'context',
      'target_url',
      'description',
      'coverage',
      'pipeline_id',
    ],
    invalidStatus: 400,
    unauthorized: { message: '401 Unauthorized' },
  },
  gitea: {
    root: '/api/v1',
    route: (p) =>
      ownerRepo(new RegExp(`^/api/v1/repos/${SEGMENT}/${SEGMENT}/statuses/${SHA}$`).exec(p)),
    // Gitea takes `token <t>` (what the hub sends) and `Bearer <t>` alike.
    authOk: (req, token) =>
      req.headers.authorization === `token ${token}` ||
      req.headers.authorization === `Bearer ${token}`,
    states: ['pending', 'success', 'error', 'failure', 'warning'],
    contextField: 'context',
    descriptionMax: Infinity,
    fields: ['state', 'target_url', 'description', 'context'],
    invalidStatus: 422,
    unauthorized: { message: 'token is required' },
  },
};

function ownerRepo(m: RegExpExecArray | null) {
  return m ? { repo: `${m[1]}/${m[2]}`, sha: m[3] ?? '' } : undefined;
}

/** Checks a body against the spec; returns the refusal, or '' when valid. */
function checkBody(spec: HostSpec, body: unknown): string {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return 'body is not a JSON object';
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) if (!spec.fields.includes(key)) return `unknown field ${key}`;
  for (const [key, value] of Object.entries(b))
    if (typeof value !== 'string') return `${key} is not a string`;
  const state = b['state'];
  if (typeof state !== 'string' || !spec.states.includes(state))
    return `state ${JSON.stringify(state)} is not one of ${spec.states.join(', ')}`;
  const description = b['description'];
  if (typeof description === 'string' && description.length > spec.descriptionMax)
    return `description is too long (maximum is ${spec.descriptionMax} characters)`;
  const context = b[spec.contextField];
  if (typeof context !== 'string' || context === '') return `${spec.contextField} is missing`;
  const target = b['target_url'];
  if (typeof target === 'string' && target !== '' && !/^https?:\/\//.test(target))
    return 'target_url is not an http(s) URL';
  return '';
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** The created status as each host answers it. */
function created(kind: GitHostKind, s: ReceivedStatus, id: number, apiUrl: string): unknown {
  const at = new Date(s.atMs).toISOString();
  if (kind === 'gitlab')
    return {
      id,
      sha: s.sha,
      ref: null,
      status: s.state,
      name: s.context,
      target_url: s.targetUrl || null,
      description: s.description || null,
      created_at: at,
      started_at: null,
      finished_at: null,
      allow_failure: false,
      coverage: null,
      author: { id: 1, username: 'driftless', name: 'driftless', state: 'active' },
    };
  const common = {
    id,
    url: `${apiUrl}/repos/${s.repo}/statuses/${s.sha}`,
    target_url: s.targetUrl,
    description: s.description,
    context: s.context,
    created_at: at,
    updated_at: at,
    creator: { login: 'driftless', id: 1 },
  };
  return kind === 'github' ? { ...common, state: s.state } : { ...common, status: s.state };
}

/** Starts a receiver on 127.0.0.1 (a free port). */
export async function startGitHostReceiver(o: GitHostReceiverOptions): Promise<GitHostReceiver> {
  const spec = SPECS[o.kind];
  const statuses: ReceivedStatus[] = [];
  const requests: HostRequest[] = [];
  let failures: { times: number; status: number } = { times: 0, status: 500 };
  let apiUrl = '';

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const auth = String(req.headers.authorization ?? req.headers['private-token'] ?? '');
    const answer = (status: number, refusal: string, body: unknown) => {
      requests.push({ method: req.method ?? '', path, status, refusal, auth });
      send(res, status, body);
    };
    const text = await readBody(req);
    if (failures.times > 0) {
      failures = { ...failures, times: failures.times - 1 };
      return answer(failures.status, 'injected failure', { message: 'Internal Server Error' });
    }
    const route = spec.route(path);
    if (req.method !== 'POST' || !route)
      return answer(404, 'no such route', { message: 'Not Found' });
    if (!spec.authOk(req, o.token)) return answer(401, 'bad token', spec.unauthorized);
    if (!o.repos.includes(route.repo))
      return answer(404, 'unknown repository', { message: 'Not Found' });
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json'))
      return answer(415, 'not JSON', { message: 'Unsupported Media Type' });
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return answer(400, 'invalid JSON', { message: 'Problems parsing JSON' });
    }
    const refusal = checkBody(spec, body);
    if (refusal)
      return answer(spec.invalidStatus, refusal, {
        message: 'Validation Failed',
        errors: [refusal],
      });
    const b = body as Record<string, string>;
    const status: ReceivedStatus = {
      repo: route.repo,
      sha: route.sha,
      state: b['state'] ?? '',
      context: b[spec.contextField] ?? '',
      description: b['description'] ?? '',
      targetUrl: b['target_url'] ?? '',
      atMs: Date.now(),
    };
    statuses.push(status);
    answer(201, '', created(o.kind, status, statuses.length, apiUrl));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => send(res, 500, { message: String(err) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  apiUrl = `http://127.0.0.1:${port}${spec.root}`;
  return {
    kind: o.kind,
    apiUrl,
    statuses,
    requests,
    failNext: (times, status = 500) => {
      failures = { times, status };
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
