/**
 * A scripted stand-in for the Kubernetes API server, for unit tests of
 * kube/: a node:http server on 127.0.0.1 that records every request and
 * answers with the test's handler; discovery of a few kinds is built in.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient, type KubeClientOptions } from '../src/kube/client.ts';

/** One request the fake received. */
export interface RecordedRequest {
  method: string;
  /** Path without the query, e.g. `/api/v1/namespaces/a/configmaps/x`. */
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** What a handler answers: a status and a JSON body (or raw text). */
export interface Answer {
  status?: number;
  body?: unknown;
  /** Sent as is instead of `body`. */
  raw?: string;
  contentType?: string;
}

/** Answers one request; undefined falls through to built-in discovery, else 404. */
export type Handler = (
  req: RecordedRequest,
  res: http.ServerResponse,
) => Answer | undefined | 'handled';

/** Per-group-version discovery the fake serves unless the handler answers first. */
export const RESOURCES: Record<string, { name: string; kind: string; namespaced: boolean }[]> = {
  v1: [
    { name: 'configmaps', kind: 'ConfigMap', namespaced: true },
    { name: 'namespaces', kind: 'Namespace', namespaced: false },
    { name: 'pods', kind: 'Pod', namespaced: true },
    { name: 'pods/log', kind: 'Pod', namespaced: true },
  ],
  'apps/v1': [
    { name: 'deployments', kind: 'Deployment', namespaced: true },
    { name: 'deployments/scale', kind: 'Scale', namespaced: true },
  ],
  'rbac.authorization.k8s.io/v1': [
    { name: 'clusterroles', kind: 'ClusterRole', namespaced: false },
  ],
};

/** A running fake API server and a client pointed at it. */
export interface FakeKubeApi {
  client: KubeClient;
  requests: RecordedRequest[];
  /** Requests other than per-group-version discovery. */
  calls(): RecordedRequest[];
  /** Replaces the handler. */
  handle(handler: Handler): void;
  close(): Promise<void>;
}

/** Starts a fake API server answering with `handler` (default: discovery only). */
export async function startFakeKubeApi(
  handler: Handler = () => undefined,
  options: KubeClientOptions = {},
): Promise<FakeKubeApi> {
  let current = handler;
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const rec: RecordedRequest = {
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(rec);
      const answer = current(rec, res) ?? discovery(rec);
      if (answer === 'handled') return;
      const text = answer.raw ?? JSON.stringify(answer.body ?? {});
      res.writeHead(answer.status ?? 200, {
        'content-type': answer.contentType ?? 'application/json',
      });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'agent', token: 'agent-token' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'agent' }],
    currentContext: 'fake',
  });
  const client = await KubeClient.fromKubeConfig(kc, options);
  return {
    client,
    requests,
    calls: () => requests.filter((r) => !isDiscovery(r.path)),
    handle: (h) => {
      current = h;
    },
    close: async () => {
      client.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function isDiscovery(path: string): boolean {
  return /^\/api\/v1$|^\/apis\/[^/]+\/[^/]+$/.test(path);
}

function discovery(req: RecordedRequest): Answer {
  const gv = req.path.startsWith('/api/') ? req.path.slice(5) : req.path.slice(6);
  const resources = isDiscovery(req.path) ? RESOURCES[gv] : undefined;
  if (!resources)
    return {
      status: 404,
      body: status(404, 'NotFound', 'the server could not find the requested resource'),
    };
  return {
    body: {
      kind: 'APIResourceList',
      groupVersion: gv,
      resources: resources.map((r) => ({ ...r, verbs: ['get', 'list', 'patch'] })),
    },
  };
}

/** A Kubernetes `Status` failure body. */
export function status(
  code: number,
  reason: string,
  message: string,
  causes?: { field?: string; reason?: string; message?: string }[],
): unknown {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    code,
    reason,
    message,
    ...(causes ? { details: { causes } } : {}),
  };
}
