/**
 * A minimal Kubernetes API client for benchmarks: JSON requests over one keep-alive HTTPS
 * agent with the client certificate of a harness kubeconfig. Independent of the agent's own
 * client on purpose, so what a benchmark observes does not move when the agent's client does.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { parse } from 'yaml';

/** A Kubernetes object as JSON. */
export type KubeJson = Record<string, unknown> & {
  metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> };
};

/** An API error: the status code and the API server's message. */
export class KubeError extends Error {
  /** The HTTP status code. */
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'KubeError';
    this.status = status;
  }
}

/** A client for one cluster. */
export interface BenchKube {
  /** Sends a request; resolves with the JSON answer, undefined on 404; rejects on other errors. */
  request(
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
  ): Promise<KubeJson | undefined>;
  /** Server-side apply of `object` at `path` (the object's own URL) as field manager `manager`. */
  apply(path: string, object: unknown, manager: string): Promise<KubeJson | undefined>;
  /** The items of a list at `path`. */
  list(path: string): Promise<KubeJson[]>;
  /** Closes the connections. */
  close(): void;
}

/** Creates a client from a harness kubeconfig file (admin client certificate). */
export function benchKube(kubeconfigPath: string): BenchKube {
  const config = parse(readFileSync(kubeconfigPath, 'utf8')) as {
    clusters: { cluster: Record<string, string> }[];
    users: { user: Record<string, string> }[];
  };
  const cluster = config.clusters[0]!.cluster;
  const user = config.users[0]!.user;
  const pem = (b64: string | undefined) => (b64 ? Buffer.from(b64, 'base64') : undefined);
  const agent = new Agent({
    keepAlive: true,
    maxSockets: 8,
    ca: pem(cluster['certificate-authority-data']),
    cert: pem(user['client-certificate-data']),
    key: pem(user['client-key-data']),
  });
  const server = cluster['server']!;
  const send = (method: string, path: string, body?: unknown, contentType = 'application/json') =>
    new Promise<KubeJson | undefined>((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = request(
        new URL(path, server),
        {
          method,
          agent,
          headers: {
            accept: 'application/json',
            ...(data
              ? { 'content-type': contentType, 'content-length': Buffer.byteLength(data) }
              : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status === 404) return resolve(undefined);
            if (status >= 300)
              return reject(
                new KubeError(status, `${method} ${path}: ${status} ${text.slice(0, 300)}`),
              );
            resolve(text ? (JSON.parse(text) as KubeJson) : undefined);
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  return {
    request: send,
    apply: (path, object, manager) =>
      send(
        'PATCH',
        `${path}?fieldManager=${encodeURIComponent(manager)}&force=true`,
        object,
        'application/apply-patch+yaml',
      ),
    async list(path) {
      return ((await send('GET', path))?.['items'] as KubeJson[] | undefined) ?? [];
    },
    close: () => agent.destroy(),
  };
}
