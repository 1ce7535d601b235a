import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorObject } from 'ajv';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { errorMessage, type Logger } from '@driftless/common';
import { httpStatusFor, RateLimitedError } from '../errors.ts';

/**
 * The API's one error answer: `{"error": {"status": N, "message": "..."}}`, for hub errors,
 * schema validation, body parsing, unknown paths and methods alike.
 */

/** The JSON body of every error answer. */
export interface ErrorAnswer {
  error: { status: number; message: string };
}

/** What a request is about, for messages: the route's summary, else method and path. */
export function whatOf(req: FastifyRequest): string {
  const summary = req.routeOptions.schema?.summary;
  return summary ?? `${req.method} ${pathOf(req)}`;
}

/** The request path without the query, cut to a length fit for a message. */
export function pathOf(req: FastifyRequest): string {
  const raw = req.raw.url ?? '/';
  const i = raw.indexOf('?');
  return (i < 0 ? raw : raw.slice(0, i)).slice(0, 200);
}

/** Where in the request a validation error is: `field "x"`, `query parameter x`, ... */
function placeOf(part: string | undefined, error: ErrorObject): string {
  const path = error.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
  const missing = error.keyword === 'required' ? String(error.params['missingProperty'] ?? '') : '';
  const name = [path, missing].filter(Boolean).join('.');
  switch (part) {
    case 'querystring':
      return `query parameter ${name}`;
    case 'params':
      return `path parameter ${name}`;
    case 'headers':
      return `header ${name}`;
    default:
      return name ? `field "${name}"` : 'request body';
  }
}

/** One validation error in words a user reads: `field "uses" must be >= 1`. */
function describeValidation(part: string | undefined, error: ErrorObject): string {
  const place = placeOf(part, error);
  // A schema may word its own refusal (`x-error`), where the keyword's would not help a user.
  const own = (error.parentSchema as { 'x-error'?: string } | undefined)?.['x-error'];
  if (own && error.keyword !== 'required' && error.keyword !== 'type') return `${place} ${own}`;
  if (error.keyword === 'required') return `${place} is required`;
  if (error.keyword === 'type' && place === 'request body')
    return 'request body must be a JSON object';
  if (error.keyword === 'type') return `${place} must be a ${String(error.params['type'])}`;
  if (error.keyword === 'enum')
    return `${place} must be one of ${(error.params['allowedValues'] as unknown[]).join(', ')}`;
  return `${place} ${error.message ?? 'is not valid'}`;
}

/** Status and message of any error a request ended in. 500s never show their cause. */
export function describeError(err: unknown, req: FastifyRequest): ErrorAnswer['error'] {
  const what = whatOf(req);
  const fe = err as Partial<FastifyError> & { validation?: ErrorObject[] };
  if (Array.isArray(fe.validation)) {
    const parts = fe.validation.slice(0, 3).map((e) => describeValidation(fe.validationContext, e));
    return { status: 400, message: `${what}: ${parts.join('; ')}` };
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return {
        status: 400,
        message: `${what}: request body is not valid JSON: ${fe.message ?? ''}`,
      };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, message: `${what}: request body is larger than the limit` };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, message: `${what}: send the body as application/json` };
  }
  const status = httpStatusFor(err);
  if (status !== 500) return { status, message: errorMessage(err) };
  // Fastify's own client errors (bad content length, bad URL, ...) carry their status.
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500)
    return { status: fe.statusCode, message: `${what}: ${fe.message ?? 'bad request'}` };
  return { status: 500, message: 'internal error in the hub; see its logs' };
}

/**
 * Reads and drops the rest of a refused body (a 413 decided from Content-Length) and keeps
 * the connection open meanwhile, so the sender gets the answer instead of a broken pipe.
 * The server's request timeout bounds how long a sender can keep that up.
 */
export function drain(req: FastifyRequest, reply: FastifyReply): void {
  void reply.removeHeader('connection');
  req.raw.resume();
}

/** Sends the error answer for `err`, logging only what is the hub's own fault. */
export function sendError(
  err: unknown,
  req: FastifyRequest,
  reply: FastifyReply,
  log: Logger,
): FastifyReply {
  const { status, message } = describeError(err, req);
  if (status >= 500)
    log.error({ err, method: req.method, path: pathOf(req) }, 'API request failed');
  if (!req.raw.complete) drain(req, reply);
  if (err instanceof RateLimitedError)
    void reply.header('retry-after', Math.ceil(err.retryAfterMs / 1000));
  return reply.code(status).type('application/json').send({ error: { status, message } });
}

/** Status and message of a request Node's HTTP parser refused before any route saw it. */
export function describeClientError(err: NodeJS.ErrnoException & { reason?: string }): {
  status: number;
  message: string;
} {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return { status: 408, message: 'the request took longer to arrive than the hub waits' };
  if (err.code === 'HPE_HEADER_OVERFLOW')
    return { status: 431, message: 'the request headers are larger than the limit' };
  const reason = (err.reason ?? err.message).slice(0, 200);
  return { status: 400, message: `malformed HTTP request: ${reason}` };
}

/**
 * Answers a request Node's HTTP parser refused (both Content-Length and Transfer-Encoding,
 * a bad request line, headers too large, too slow) in the API's error shape, then closes
 * the connection: after such a request the byte stream cannot be trusted.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex, log: Logger): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, message } = describeClientError(err);
  log.debug({ code: err.code, status }, 'HTTP request refused by the parser');
  const body = JSON.stringify({ error: { status, message } });
  if (socket.writable)
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
        `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `connection: close\r\n\r\n${body}`,
    );
  else socket.destroy();
}
