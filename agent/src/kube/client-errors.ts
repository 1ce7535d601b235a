/**
 * Errors of the Kubernetes client: the API server's `Status` turned into a short
 * message with its causes, unknown kinds, and errors naming the object they concern.
 */
import { TerminalError } from '@driftless/common';
import { refString, type ObjectRef } from '../model.ts';

/** How the API server says a field cannot change after creation. */
const IMMUTABLE = /immutable|updates to .+ are forbidden|cannot change/i;

/** One cause of an API error, as the server lists them in `Status.details.causes`. */
export interface KubeErrorCause {
  /** Field path such as `spec.template`; '' when the cause names no field. */
  field: string;
  /** Short reason, e.g. `FieldValueInvalid`. */
  reason: string;
  /** What the server said about the field, shortened (value dumps removed). */
  message: string;
}

/**
 * An API error answered by the server, with its HTTP status and Kubernetes
 * reason. `message` is short (the fields and what is wrong with them, a few
 * hundred characters at most); the server's whole answer is kept in
 * `serverMessage` for debug logs.
 */
export class KubeApiError extends Error {
  override name = 'KubeApiError';
  /** HTTP status, e.g. 404, 409, 422. */
  readonly statusCode: number;
  /** Kubernetes `Status.reason`, e.g. `NotFound`, `Invalid`, `Conflict`. */
  readonly reason: string;
  /** The fields the server named, in its order. */
  readonly causes: KubeErrorCause[];
  /** The server's full message (can be kilobytes: it dumps whole values); for debug logs only. */
  readonly serverMessage: string;
  /** The request, e.g. `PATCH /apis/batch/v1/namespaces/x/jobs/y`; for debug logs. */
  readonly request: string;

  constructor(
    message: string,
    statusCode: number,
    reason: string,
    details: { causes?: KubeErrorCause[]; serverMessage?: string; request?: string } = {},
  ) {
    super(message);
    this.statusCode = statusCode;
    this.reason = reason;
    this.causes = details.causes ?? [];
    this.serverMessage = details.serverMessage ?? message;
    this.request = details.request ?? '';
  }

  /**
   * The fields the server refused to change because they cannot change after
   * creation: "field is immutable" (Job template, Service clusterIP, Deployment
   * selector, a claim's spec), "updates to … are forbidden" (StatefulSet spec,
   * StorageClass parameters), "cannot change roleRef" (RoleBindings).
   */
  get immutableFields(): string[] {
    return this.causes.filter((c) => IMMUTABLE.test(c.message)).map((c) => c.field);
  }
}

/** The API server does not serve a kind (no such API, or its CRD is not there). Terminal. */
export class UnknownKindError extends TerminalError {
  override name = 'UnknownKindError';
  readonly apiVersion: string;
  readonly kind: string;
  constructor(apiVersion: string, kind: string) {
    super(`unknown kind ${kind} (${apiVersion}): the API server does not serve it`);
    this.apiVersion = apiVersion;
    this.kind = kind;
  }
}

/** How long a message taken from the server may be before it is cut. */
const MAX_SERVER_TEXT = 240;

/** The error for a non-2xx answer to `method path`, from the `Status` in `body` when there is one. */
export function apiError(method: string, path: string, status: number, body: string): KubeApiError {
  let message = body;
  let reason = '';
  let causes: KubeErrorCause[] = [];
  try {
    const s = JSON.parse(body) as {
      message?: string;
      reason?: string;
      details?: { causes?: { field?: string; reason?: string; message?: string }[] };
    };
    message = s.message ?? message;
    reason = s.reason ?? '';
    causes = (s.details?.causes ?? []).map((c) => ({
      field: c.field ?? '',
      reason: c.reason ?? '',
      message: shortCause(c.message ?? ''),
    }));
  } catch {
    // not a Status object: keep the raw text
  }
  return new KubeApiError(summarize(status, reason, message, causes), status, reason, {
    causes,
    serverMessage: message,
    request: `${method} ${path}`,
  });
}

/**
 * One short line for people: the fields the server named and what is wrong
 * with each, else its message cut to a readable length. Never the value dumps
 * (`Invalid value: core.PodTemplateSpec{...}`) that make up most of its text.
 */
function summarize(
  status: number,
  reason: string,
  message: string,
  causes: KubeErrorCause[],
): string {
  const named = causes.filter((c) => c.field || c.message);
  const what = (
    named.length > 0
      ? [...new Set(named.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)))].join(
          '; ',
        )
      : shortCause(message)
  ).trim();
  const head = reason || String(status);
  return cut(`${head}: ${what}`, MAX_SERVER_TEXT);
}

/** `Invalid value: <dump>: field is immutable` → `field is immutable`; other text is cut. */
function shortCause(text: string): string {
  // What follows the first line is a dump (a Go struct diff) or a stack; never for people.
  const t = (text.split('\n')[0] ?? '').replace(/\s+/g, ' ').trim();
  const dump = /^Invalid value: .*: ([^:]+)$/.exec(t);
  if (dump?.[1] && t.length > 80) return dump[1].trim();
  const invalid = /^(.*?) is invalid: ([^:]+): Invalid value: .*: ([^:]+)$/.exec(t);
  if (invalid?.[2] && invalid[3]) return `${invalid[2]}: ${invalid[3].trim()}`;
  return cut(t, MAX_SERVER_TEXT);
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * A request about one object failed. Its class is its cause's (the API
 * server's status, a socket error, a typed error): the classifier in
 * `common` reads the cause.
 */
export class ObjectError extends Error {
  override name = 'ObjectError';
  /** The object the request was about. */
  readonly ref: ObjectRef;

  constructor(message: string, ref: ObjectRef, cause: unknown) {
    super(message, { cause });
    this.ref = ref;
  }
}

/**
 * `apply Deployment ns/web: Invalid: spec.replicas: must be ...`, naming the
 * object: one short message (the server's full text stays on the cause, see
 * {@link KubeApiError.serverMessage}).
 */
export function objectError(verb: string, ref: ObjectRef, err: unknown): ObjectError {
  const detail = err instanceof Error ? err.message : String(err);
  return new ObjectError(`${verb} ${refString(ref)}: ${detail}`, ref, err);
}

/**
 * The servers' full answers behind an error, for debug logs: every
 * {@link KubeApiError} in its cause chain as `request: status message`.
 */
export function serverDetails(err: unknown): string[] {
  const out: string[] = [];
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof KubeApiError) out.push(`${e.request}: ${e.statusCode} ${e.serverMessage}`);
    if (e.cause === e) break;
  }
  return out;
}
