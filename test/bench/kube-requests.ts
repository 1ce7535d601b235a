// Counting a KubeClient's API requests by verb and resource, for the agent benchmarks: what a
// cold sync or an idle minute costs the API server, request by request.
import type { KubeClient } from '@driftless/agent';

/** Requests by `verb resource` (e.g. `SSA dry-run configmaps`, `LIST deployments`, `discovery`). */
export type RequestCounts = Record<string, number>;

/**
 * The kind of one request: the verb as the API server sees it (GET of one object, LIST of a
 * collection, WATCH, SSA, SSA dry-run, POST, DELETE, PATCH) and the resource's plural;
 * requests to the inventory's namespace are named `(inventory)`, discovery is `discovery`, the
 * OpenAPI index and documents (the schema check of objects in a new Namespace) are `openapi`.
 */
export function requestKind(
  method: string,
  path: string,
  query: Record<string, unknown>,
  inventoryNamespace: string,
): string {
  if (/^\/(version|api|apis)$/.test(path) || /^\/apis?(\/[^/]+)?\/v\w+$/.test(path))
    return 'discovery';
  if (path.startsWith('/openapi/')) return 'openapi';
  const rest = path.replace(/^\/api\/v1\/|^\/apis\/[^/]+\/[^/]+\//, '').split('/');
  const namespaced = rest[0] === 'namespaces' && rest.length >= 3;
  const resource = (namespaced ? rest[2] : rest[0]) ?? '?';
  const name = namespaced ? rest[3] : rest[1];
  const inventory = namespaced && rest[1] === inventoryNamespace ? ' (inventory)' : '';
  const verb =
    method === 'PATCH'
      ? query['dryRun']
        ? 'SSA dry-run'
        : 'SSA'
      : method !== 'GET'
        ? method
        : query['watch']
          ? 'WATCH'
          : name === undefined
            ? 'LIST'
            : 'GET';
  return `${verb} ${resource}${inventory}`;
}

/**
 * Counts every request `client` sends (and every watch it opens) into the record `into()`
 * returns at that moment, so a caller can switch records between phases.
 */
export function countRequests(
  client: KubeClient,
  into: () => RequestCounts,
  inventoryNamespace = '',
): void {
  const note = (kind: string) => {
    const counts = into();
    counts[kind] = (counts[kind] ?? 0) + 1;
  };
  const request = client.request.bind(client);
  client.request = (method, path, options) => {
    note(requestKind(method, path, options?.query ?? {}, inventoryNamespace));
    return request(method, path, options);
  };
  const watch = client.watch.bind(client);
  client.watch = (apiVersion, kind, options, onEvent) => {
    note(`WATCH ${kind}`);
    return watch(apiVersion, kind, options, onEvent);
  };
}

/** The sum of a record's counts. */
export const total = (c: RequestCounts): number => Object.values(c).reduce((a, b) => a + b, 0);
