import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Role } from '../store/index.ts';

/** Who made a request: an API token's id, name and role. */
export interface Principal {
  id: string;
  name: string;
  role: Role;
}

/** What a handler gets. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** Path parameters (`:name` in the pattern). */
  params: Record<string, string>;
  /** The caller; undefined on public routes. */
  principal: Principal | undefined;
  /** The JSON body (an object), parsed on first call; InvalidArgumentError when malformed. */
  body(): Promise<Record<string, unknown>>;
}

/**
 * A handler's answer: a JSON value (sent with status 200), or
 * `{ status, body, contentType? }`, or `{ streamed: true }` when the handler
 * wrote the response itself (SSE). Typed unknown because any JSON value is allowed.
 */
export type HandlerResult = unknown;

/** One endpoint. */
export interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  /** e.g. `/api/v1/clusters/:name`. */
  pattern: string;
  /** Least role allowed; null for public endpoints (health, metrics). */
  role: Role | null;
  handler(ctx: RequestContext): Promise<HandlerResult>;
}

/** A compiled route table: finds the route for a method and path. */
export class Router {
  readonly #routes: { route: Route; re: RegExp; keys: string[] }[] = [];

  constructor(routes: Route[]) {
    for (const route of routes) {
      const keys: string[] = [];
      const re = new RegExp(
        '^' +
          route.pattern.replace(/:([a-zA-Z]+)/g, (_, k: string) => {
            keys.push(k);
            return '([^/]+)';
          }) +
          '/?$',
      );
      this.#routes.push({ route, re, keys });
    }
  }

  /**
   * The route for `method` and `path`: `{ route, params }`, or `{ allowed }`
   * (the methods the path does take, for a 405) or undefined for a 404.
   */
  match(
    method: string,
    path: string,
  ): { route: Route; params: Record<string, string> } | { allowed: string[] } | undefined {
    const allowed: string[] = [];
    for (const { route, re, keys } of this.#routes) {
      const m = re.exec(path);
      if (!m) continue;
      if (route.method !== method) {
        allowed.push(route.method);
        continue;
      }
      const params: Record<string, string> = {};
      keys.forEach((k, i) => {
        params[k] = decodeURIComponent(m[i + 1] ?? '');
      });
      return { route, params };
    }
    return allowed.length ? { allowed } : undefined;
  }
}
