import { Type } from 'typebox';
import { defaultApiUrl, hostTokenContext, parseMatch } from '../../commit-status/index.ts';
import { InvalidArgumentError, NotFoundError } from '../../errors.ts';
import type { CommitStatusRecord, StatusHostRecord, StatusPostRecord } from '../../store/index.ts';
import { ForbiddenDestinationError, OutboundGuard } from '../../outbound/index.ts';
import { actorOf, allows } from '../auth.ts';
import { List, Revision, normaliseRevision } from '../schemas.ts';
import { principalOf, type ApiApp } from '../types.ts';
import { iso } from '../views.ts';
import type { RouteDeps } from './deps.ts';

const Time = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
const Answer = Type.String({
  description: "what the Git host answered (its message); admins only, '' for others",
});
const Kind = Type.Union([Type.Literal('github'), Type.Literal('gitlab'), Type.Literal('gitea')]);
const State = Type.Union([
  Type.Literal('pending'),
  Type.Literal('success'),
  Type.Literal('failure'),
  Type.Literal('superseded'),
]);
const HostName = Type.String({
  pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$',
  description: 'lower-case letters, digits and dashes, at most 63',
  'x-error': 'is not a host name (lower-case letters, digits and dashes, at most 63)',
});

/** A Git host as the API shows it: never its token, only that one is set. */
const HostView = Type.Object(
  {
    name: Type.String(),
    kind: Kind,
    match: Type.String(),
    apiUrl: Type.String(),
    tokenSet: Type.Boolean(),
    createdAt: Time,
    createdBy: Type.String(),
    updatedAt: Time,
  },
  { title: 'CommitStatusHost' },
);

const PutHostBody = Type.Object({
  kind: Kind,
  match: Type.String({
    minLength: 1,
    maxLength: 300,
    description: 'host[:port][/path-prefix] of the repository URLs it serves',
  }),
  apiUrl: Type.Optional(
    Type.String({ maxLength: 2048, description: "API root; default: the kind's usual one" }),
  ),
  token: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 4096,
      description: 'required when creating; kept when omitted on update',
    }),
  ),
});

const StatusView = Type.Object(
  {
    repoUrl: Type.String(),
    sha: Type.String(),
    context: Type.String(),
    host: Type.String(),
    repoPath: Type.String(),
    state: State,
    description: Type.String(),
    targetUrl: Type.String(),
    supersededBy: Type.String(),
    posted: Type.Boolean({ description: 'the current state and description reached the host' }),
    postedState: Type.String(),
    postedAt: Time,
    attempts: Type.Integer(),
    nextAttemptAt: Time,
    lastError: Type.String(),
    lastAnswer: Answer,
    updatedAt: Time,
  },
  { title: 'CommitStatus' },
);

const PostView = Type.Object(
  {
    id: Type.Integer(),
    at: Time,
    repoUrl: Type.String(),
    sha: Type.String(),
    context: Type.String(),
    host: Type.String(),
    state: State,
    description: Type.String(),
    result: Type.Union([Type.Literal('posted'), Type.Literal('failed')]),
    httpStatus: Type.Integer({ description: "the host's HTTP status; 0 when it did not answer" }),
    error: Type.String(),
    answer: Answer,
    attempt: Type.Integer(),
  },
  { title: 'CommitStatusPost' },
);

const hostView = (h: StatusHostRecord) => ({
  name: h.name,
  kind: h.kind,
  match: h.match,
  apiUrl: h.apiUrl,
  tokenSet: h.tokenSealed !== '',
  createdAt: iso(h.createdMs),
  createdBy: h.createdBy,
  updatedAt: iso(h.updatedMs),
});

/** What the API shows of a status; the host's answer to admins only (see docs/commit-status.md). */
const statusView = (s: CommitStatusRecord, admin: boolean) => ({
  repoUrl: s.repoUrl,
  sha: s.sha,
  context: s.context,
  host: s.host,
  repoPath: s.repoPath,
  state: s.state,
  description: s.description,
  targetUrl: s.targetUrl,
  supersededBy: s.supersededBy,
  posted: s.postedVersion === s.version,
  postedState: s.postedState,
  postedAt: iso(s.postedMs),
  attempts: s.attempts,
  nextAttemptAt: iso(s.nextAttemptMs),
  lastError: s.lastError,
  lastAnswer: admin ? s.lastAnswer : '',
  updatedAt: iso(s.updatedMs),
});

const postView = (p: StatusPostRecord, admin: boolean) => ({
  ...p,
  at: iso(p.atMs),
  atMs: undefined,
  answer: admin ? p.answer : '',
});

/** Checks an API root: an absolute http(s) URL without credentials, query or fragment. */
function checkApiUrl(text: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new InvalidArgumentError(`apiUrl "${text.slice(0, 80)}": not a URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw new InvalidArgumentError(`apiUrl: use an http or https URL, not ${u.protocol}`);
  if (u.username || u.password || u.search || u.hash)
    throw new InvalidArgumentError(
      'apiUrl: no user, password, query or fragment (the token goes in the token field)',
    );
  return u.toString().replace(/\/+$/, '');
}

/**
 * Git commit statuses: the hosts that take them (admin; tokens sealed, never shown, every
 * change audited in its transaction), the status of each commit, and the log of posts.
 */
export function commitStatusRoutes(deps: Pick<RouteDeps, 'store' | 'clock' | 'secrets' | 'guard'>) {
  const { store, clock, secrets } = deps;
  const guard = deps.guard ?? new OutboundGuard();
  const tags = ['Commit statuses'];
  return (app: ApiApp): void => {
    app.get(
      '/api/v1/commit-status/hosts',
      {
        config: { role: 'admin' },
        schema: { summary: 'list Git hosts', tags, response: { 200: List(HostView) } },
      },
      async () => ({ items: (await store.listStatusHosts()).map(hostView) }),
    );

    app.put(
      '/api/v1/commit-status/hosts/:name',
      {
        config: { role: 'admin' },
        schema: {
          summary: 'create or replace a Git host and its token',
          tags,
          params: Type.Object({ name: HostName }),
          body: PutHostBody,
          response: { 200: HostView, 201: HostView },
        },
      },
      async (req, reply) => {
        const { name } = req.params;
        const { kind, token } = req.body;
        const match = req.body.match.trim().replace(/\/+$/, '').toLowerCase();
        if (!parseMatch(match))
          throw new InvalidArgumentError(
            `match "${match.slice(0, 80)}": use host[:port][/path-prefix], e.g. github.com or git.example.com/gitlab`,
          );
        const apiUrl = checkApiUrl(req.body.apiUrl || defaultApiUrl(kind, match));
        const old = await store.getStatusHost(name);
        if (!old && !token)
          throw new InvalidArgumentError(`commit-status host ${name}: a new host needs a token`);
        // Else an admin could send the sealed token, which no one can read, to a server of theirs.
        if (old && !token && old.apiUrl !== apiUrl)
          throw new InvalidArgumentError(
            `commit-status host ${name}: a new apiUrl needs the token again (the stored token is sent only to the API root it was given for)`,
          );
        try {
          await guard.check(`commit-status host ${name}: apiUrl`, apiUrl);
        } catch (err) {
          if (err instanceof ForbiddenDestinationError)
            throw new InvalidArgumentError(err.message, { cause: err });
          throw err;
        }
        const now = clock.now();
        const record: StatusHostRecord = {
          name,
          kind,
          match,
          apiUrl,
          tokenSealed: token ? secrets.seal(token, hostTokenContext(name)) : old!.tokenSealed,
          createdMs: old?.createdMs ?? now,
          createdBy: old?.createdBy ?? actorOf(principalOf(req)),
          updatedMs: now,
        };
        const result = await store.putStatusHost(record, {
          actor: actorOf(principalOf(req)),
          action: old ? 'commit-status-host.update' : 'commit-status-host.create',
          target: `commit-status-host/${name}`,
          details: { kind, match, apiUrl, tokenChanged: Boolean(token) },
        });
        return reply.code(result === 'created' ? 201 : 200).send(hostView(record));
      },
    );

    app.delete(
      '/api/v1/commit-status/hosts/:name',
      {
        config: { role: 'admin' },
        schema: {
          summary: 'delete a Git host and its token',
          tags,
          params: Type.Object({ name: HostName }),
          response: { 204: Type.Null() },
        },
      },
      async (req, reply) => {
        const { name } = req.params;
        await store.deleteStatusHost(name, clock.now(), {
          actor: actorOf(principalOf(req)),
          action: 'commit-status-host.delete',
          target: `commit-status-host/${name}`,
        });
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/api/v1/commit-status/statuses',
      {
        config: { role: 'viewer' },
        schema: {
          summary: 'commit statuses: what the hub wants each commit to show, and if it was posted',
          tags,
          querystring: Type.Object({
            sha: Type.Optional(Revision),
            context: Type.Optional(Type.String({ maxLength: 300 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          }),
          response: { 200: List(StatusView) },
        },
      },
      async (req) => {
        const { sha, context, limit } = req.query;
        const admin = allows(principalOf(req).role, 'admin');
        const prefix = sha && normaliseRevision(sha);
        const items = await store.listCommitStatuses({
          ...(context ? { context } : {}),
          limit: prefix ? 1000 : (limit ?? 100),
        });
        return {
          items: items
            .filter((s) => !prefix || s.sha.startsWith(prefix))
            .slice(0, limit ?? 100)
            .map((s) => statusView(s, admin)),
        };
      },
    );

    app.get(
      '/api/v1/commit-status/posts',
      {
        config: { role: 'viewer' },
        schema: {
          summary: 'recent commit-status posts, with their result',
          tags,
          querystring: Type.Object({
            sha: Type.Optional(Revision),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          }),
          response: { 200: List(PostView) },
        },
      },
      async (req) => {
        const { sha, limit } = req.query;
        const admin = allows(principalOf(req).role, 'admin');
        const prefix = sha && normaliseRevision(sha);
        const items = await store.listStatusPosts({ limit: prefix ? 1000 : (limit ?? 100) });
        return {
          items: items
            .filter((p) => !prefix || p.sha.startsWith(prefix))
            .slice(0, limit ?? 100)
            .map((p) => postView(p, admin)),
        };
      },
    );

    app.get(
      '/api/v1/commit-status/hosts/:name',
      {
        config: { role: 'admin' },
        schema: {
          summary: 'one Git host',
          tags,
          params: Type.Object({ name: HostName }),
          response: { 200: HostView },
        },
      },
      async (req) => {
        const h = await store.getStatusHost(req.params.name);
        if (!h) throw new NotFoundError(`commit-status host ${req.params.name}: not found`);
        return hostView(h);
      },
    );
  };
}
