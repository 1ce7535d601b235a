import { redactUrl } from '@driftless/common';
import { WebhookPayloadError } from './errors.ts';
import type { DeliveryHeaders } from './verify.ts';

/** A push to a branch, reduced to what decides which agents get a hint. */
export interface PushEvent {
  /** Every URL the payload gives for the repository, as {@link repoKey}s (deduplicated). */
  repoKeys: Set<string>;
  /** A URL of the repository for logs and the audit log (credentials stripped). */
  repoUrl: string;
  /** The pushed branch, without `refs/heads/`. */
  branch: string;
  /** The repository's default branch if the payload names it, else ''. */
  defaultBranch: string;
  /** The new head commit (`after`), or '' when the payload has none. */
  revision: string;
}

/** What a delivery asks of the receiver: a push to act on, or a reason to ignore it. */
export type DeliveryKind = { kind: 'push'; push: PushEvent } | { kind: 'ignored'; reason: string };

/** Payload fields that hold a URL of the repository, per provider (unknown ones are skipped). */
const URL_FIELDS = [
  'html_url',
  'clone_url',
  'git_url',
  'ssh_url',
  'svn_url',
  'url',
  'git_http_url',
  'git_ssh_url',
  'http_url',
  'web_url',
  'homepage',
];

const ZERO_SHA = /^0+$/;

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
const text = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Whether the headers name a push event of their provider. */
function isPushEvent(d: DeliveryHeaders, payload: Json): boolean {
  switch (d.provider) {
    case 'github':
    case 'gitea':
      return d.event === 'push';
    case 'gitlab':
      // A system hook carries every kind of event under one header; its body says which.
      return (
        d.event === 'Push Hook' || (d.event === 'System Hook' && payload['object_kind'] === 'push')
      );
  }
}

/**
 * The JSON object of a delivery. GitHub and Gitea can be set to send
 * `application/x-www-form-urlencoded` with the JSON in a `payload` field.
 */
export function parseBody(body: Buffer, contentType: string, what: string): Json {
  let raw = body.toString('utf8');
  if (/^application\/x-www-form-urlencoded/i.test(contentType)) {
    const field = new URLSearchParams(raw).get('payload');
    if (field === null) throw new WebhookPayloadError(`${what}: form body has no "payload" field`);
    raw = field;
  }
  if (raw.trim() === '') throw new WebhookPayloadError(`${what}: body is empty`);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new WebhookPayloadError(`${what}: body is not valid JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const o = obj(value);
  if (!o) throw new WebhookPayloadError(`${what}: body must be a JSON object`);
  return o;
}

/**
 * Classifies a verified delivery: a push to a branch, or something to ignore
 * (ping, tag push, branch deletion, other events) with the reason.
 * Throws {@link WebhookPayloadError} when a push lacks what a push must have.
 */
export function classifyDelivery(d: DeliveryHeaders, payload: Json): DeliveryKind {
  const what = `${d.provider} ${d.event} delivery`;
  if (!isPushEvent(d, payload))
    return { kind: 'ignored', reason: `event "${d.event.slice(0, 64)}" does not move a branch` };
  const ref = text(payload['ref']);
  if (!ref) throw new WebhookPayloadError(`${what}: field "ref" is missing`);
  if (!ref.startsWith('refs/heads/'))
    return { kind: 'ignored', reason: `ref ${ref.slice(0, 200)} is not a branch` };
  const revision = text(payload['after']) || text(payload['checkout_sha']);
  if (revision && !/^[0-9a-f]{7,64}$/i.test(revision))
    throw new WebhookPayloadError(`${what}: field "after" is not a hex commit SHA`);
  if (payload['deleted'] === true || ZERO_SHA.test(revision))
    return { kind: 'ignored', reason: `branch ${ref.slice(11, 211)} was deleted` };

  // GitHub and Gitea describe the repository under `repository`; GitLab under `project`
  // (and an older `repository` with fewer URLs). Take every URL of both.
  const holders = [obj(payload['repository']), obj(payload['project'])].filter(
    (o): o is Json => o !== undefined,
  );
  const urls = holders.flatMap((o) => URL_FIELDS.map((f) => text(o[f])).filter(Boolean));
  const repoKeys = new Set(urls.map(repoKey).filter((k): k is string => k !== undefined));
  if (repoKeys.size === 0)
    throw new WebhookPayloadError(
      `${what}: no repository URL (repository.clone_url, project.git_http_url, ...) in the payload`,
    );
  const defaultBranch = holders.map((o) => text(o['default_branch'])).find(Boolean) ?? '';
  return {
    kind: 'push',
    push: {
      repoKeys,
      repoUrl: redactUrl(urls[0] ?? ''),
      branch: ref.slice('refs/heads/'.length),
      defaultBranch,
      revision: revision.toLowerCase(),
    },
  };
}

/** Ports that say nothing about which repository is meant (each scheme's default). */
const DEFAULT_PORTS = new Set(['80', '443', '22', '9418']);

/**
 * A repository URL reduced to what names the repository, so the URL an agent
 * was given and the several URLs a Git server puts in a payload compare equal:
 * `https://User:tok@GitHub.com/Org/Repo.git/`, `http://github.com/org/repo`,
 * `ssh://git@github.com:22/org/repo.git` and `git@github.com:org/repo.git`
 * all give `github.com/org/repo`.
 *
 * The scheme, user info, default ports, a trailing `.git` and slashes are
 * dropped and everything is lower-cased. Paths are case-insensitive on GitHub,
 * GitLab and Gitea; where they are not, the worst a false match costs is one
 * extra remote-head check by the agent, while a miss costs a whole poll interval.
 * Undefined when `url` names no host and path.
 */
export function repoKey(url: string): string | undefined {
  const s = url.trim();
  let host: string;
  let port = '';
  let path: string;
  const scp = /^(?:[^@/:]+@)?([^/:]+):(?!\/\/)(.+)$/.exec(s);
  if (scp && !s.includes('://')) {
    host = scp[1]!;
    path = scp[2]!;
  } else {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      return undefined;
    }
    host = u.hostname;
    port = u.port;
    path = u.pathname;
  }
  if (DEFAULT_PORTS.has(port)) port = '';
  path = path
    .replace(/\/+$/, '')
    .replace(/\.git$/i, '')
    .replace(/^\/+|\/+$/g, '');
  if (!host || !path) return undefined;
  return `${host}${port ? `:${port}` : ''}/${path}`.toLowerCase();
}

/** Whether an agent following `follows` should hear of `push`. */
export function followsPush(
  follows: { repoUrl: string; branch: string },
  push: PushEvent,
): boolean {
  const key = repoKey(follows.repoUrl);
  if (key === undefined || !push.repoKeys.has(key)) return false;
  const branch = follows.branch.replace(/^refs\/heads\//, '');
  // An agent with no branch follows the default branch; a payload that names it tells us which.
  return branch === ''
    ? push.defaultBranch !== '' && push.branch === push.defaultBranch
    : branch === push.branch;
}
