// Over 400 lines on purpose: one class whose transport, discovery cache and resource verbs share one private state; its errors live in client-errors.ts.
import https from 'node:https';
import http from 'node:http';
import { TransientError } from '@driftless/common';
import type { KubeObject, ObjectRef } from '../model.ts';
import { apiError, KubeApiError, UnknownKindError } from './client-errors.ts';
import type { Credentials } from './credentials.ts';
import { clusterAccessFromText, type ClusterAccess } from './kubeconfig.ts';
import { AGENT_VERSION } from '../version.ts';

// The errors lived here first; callers and tests import them with the client.
export * from './client-errors.ts';

/** One kind the API server serves. */
export interface ApiResource {
  group: string;
  version: string;
  kind: string;
  /** URL segment, e.g. `deployments`. */
  plural: string;
  namespaced: boolean;
  verbs: string[];
}

/** Options of {@link KubeClient}. */
export interface KubeClientOptions {
  /** Sockets kept open to the API server. Default 16. */
  maxSockets?: number;
  /** Per-request timeout (watches excepted). Default 30 s. */
  timeoutMs?: number;
  /** Least time between two discovery refreshes of one group version. Default 2 s. */
  discoveryRefreshMs?: number;
}

/** Options of a single request. */
interface RequestOptions {
  body?: unknown;
  /** `Accept` header. Default `application/json`. */
  accept?: string;
  contentType?: string;
  query?: Record<string, string | number | boolean | undefined>;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** An event of a watch stream. */
export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: KubeObject;
}

interface GroupVersionEntry {
  fetchedAt: number;
  /** undefined: the group version does not exist (yet). */
  resources: Map<string, ApiResource> | undefined;
}

/**
 * Anything {@link KubeClient.fromKubeConfig} accepts: resolved cluster access
 * (see kube/kubeconfig.ts), or an object that exports kubeconfig YAML (such as
 * a client library's KubeConfig in tests), whose current context is used.
 */
export type KubeConfigInput = ClusterAccess | { exportConfig(): string };

/**
 * The connection pool, credentials and discovery cache that a client and its
 * impersonating copies share: what the server serves is the same for every
 * identity, so one cluster is discovered once, not once per tenant.
 */
class Connection {
  readonly access: ClusterAccess;
  /** Discovery per group version. */
  readonly groupVersions = new Map<string, GroupVersionEntry>();
  /** Discovery requests in flight per group version. */
  readonly pending = new Map<string, Promise<GroupVersionEntry>>();
  /** Writes (not dry-runs) of CustomResourceDefinitions and APIServices sent so far. */
  apiWrites = 0;
  readonly #maxSockets: number;
  #agent: http.Agent | undefined;
  #tls: { cert?: Buffer; key?: Buffer } = {};

  constructor(access: ClusterAccess, maxSockets: number) {
    this.access = access;
    this.#maxSockets = maxSockets;
  }

  /** The pool for `creds`; a new one when a credential plugin rotated the client certificate. */
  agentFor(creds: Credentials): http.Agent {
    if (
      this.#agent &&
      sameBuffer(creds.cert, this.#tls.cert) &&
      sameBuffer(creds.key, this.#tls.key)
    ) {
      return this.#agent;
    }
    const old = this.#agent;
    const base = { keepAlive: true, maxSockets: this.#maxSockets };
    const { access } = this;
    this.#tls = { cert: creds.cert, key: creds.key };
    this.#agent =
      access.server.protocol === 'https:'
        ? new https.Agent({
            ...base,
            ca: access.ca,
            cert: creds.cert,
            key: creds.key,
            rejectUnauthorized: !access.insecureSkipTlsVerify,
            servername: access.serverName,
          })
        : new http.Agent(base);
    // Requests in flight on the old pool finish; its idle sockets close.
    old?.destroy();
    return this.#agent;
  }

  close(): void {
    this.#agent?.destroy();
  }
}

function sameBuffer(a: Buffer | undefined, b: Buffer | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.equals(b));
}

/** Kinds whose writes change what the cluster serves. */
const SERVING_KINDS = new Set(['CustomResourceDefinition', 'APIService']);

/** The User-Agent every request carries, so audit logs and API metrics name the agent. */
export const USER_AGENT = `driftless-agent/${AGENT_VERSION} (${process.platform}/${process.arch})`;

/**
 * A small Kubernetes REST client over node:https: discovery with refresh (so
 * CRDs created moments ago are found), server-side apply (also as dry-run),
 * get, list, delete and watch of any kind. Credentials come from resolved
 * cluster access (kube/kubeconfig.ts); the client never logs them.
 */
export class KubeClient {
  readonly server: URL;
  readonly #connection: Connection;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #refreshMs: number;
  readonly #options: KubeClientOptions;

  private constructor(
    connection: Connection,
    headers: Record<string, string>,
    options: KubeClientOptions,
  ) {
    this.server = connection.access.server;
    this.#connection = connection;
    this.#headers = headers;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#refreshMs = options.discoveryRefreshMs ?? 2_000;
    this.#options = options;
  }

  /**
   * A client that sends every request as `user` (Kubernetes impersonation:
   * the `Impersonate-User` header), over this client's connections. For a
   * ServiceAccount user (`system:serviceaccount:NS:NAME`) the API server adds
   * its groups itself. See kube/impersonate.ts.
   */
  impersonating(user: string): KubeClient {
    const headers = { ...this.#headers, 'impersonate-user': user };
    return new KubeClient(this.#connection, headers, this.#options);
  }

  /**
   * A client for `config`: resolved cluster access, or the current context
   * of an object exporting kubeconfig YAML.
   * @throws TerminalError when the kubeconfig cannot be used.
   */
  static async fromKubeConfig(
    config: KubeConfigInput,
    options: KubeClientOptions = {},
  ): Promise<KubeClient> {
    const access = 'exportConfig' in config ? clusterAccessFromText(config.exportConfig()) : config;
    const connection = new Connection(access, options.maxSockets ?? 16);
    // Fail now, not on the first request, when a credential plugin or token file is broken.
    connection.agentFor(await access.credentials.get());
    return new KubeClient(connection, { 'user-agent': USER_AGENT }, options);
  }

  /**
   * What clients sharing this client's connections have in common (its
   * impersonating copies): a key for caches of what the cluster serves.
   */
  get scope(): object {
    return this.#connection;
  }

  /**
   * Writes of CustomResourceDefinitions and APIServices sent through this
   * client's connections so far: when it grows, what the cluster serves may
   * have changed before any watch tells.
   */
  get apiWrites(): number {
    return this.#connection.apiWrites;
  }

  /** Closes idle connections. */
  close(): void {
    this.#connection.close();
  }

  /** Sends one request and parses the JSON answer; errors become {@link KubeApiError}. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.#send(method, path, options);
    const text = await readAll(res);
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return (text ? JSON.parse(text) : undefined) as T;
    throw apiError(method, path, status, text);
  }

  /**
   * Sends one request with fresh credentials. A 401 answer makes the
   * credential source fetch again (a rotated token file, an expired plugin
   * credential) and the request is sent once more.
   */
  async #send(
    method: string,
    path: string,
    options: RequestOptions,
  ): Promise<http.IncomingMessage> {
    const res = await this.#sendOnce(method, path, options);
    if (res.statusCode !== 401) return res;
    res.resume();
    this.#connection.access.credentials.invalidate();
    return this.#sendOnce(method, path, options);
  }

  async #sendOnce(
    method: string,
    path: string,
    options: RequestOptions,
  ): Promise<http.IncomingMessage> {
    const creds = await this.#connection.access.credentials.get();
    const agent = this.#connection.agentFor(creds);
    const url = new URL(path, this.server);
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = transport.request(
        url,
        {
          method,
          agent,
          headers: {
            ...creds.headers,
            ...this.#headers,
            accept: options.accept ?? 'application/json',
            ...(body === undefined
              ? {}
              : {
                  'content-type': options.contentType ?? 'application/json',
                  'content-length': Buffer.byteLength(body),
                }),
          },
          signal: options.signal,
          timeout: options.timeoutMs ?? this.#timeoutMs,
        },
        resolve,
      );
      req.on('timeout', () =>
        req.destroy(new TransientError(`${method} ${url.pathname}: timed out`)),
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Discovery for one group version, fetched at most once per refresh interval. */
  async #groupVersion(apiVersion: string, refresh: boolean): Promise<GroupVersionEntry> {
    const cached = this.#connection.groupVersions.get(apiVersion);
    if (cached && (!refresh || Date.now() - cached.fetchedAt < this.#refreshMs)) return cached;
    const inflight = this.#connection.pending.get(apiVersion);
    if (inflight) return inflight;
    const load = (async () => {
      const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      let resources: Map<string, ApiResource> | undefined;
      try {
        const list = await this.request<{
          resources: Array<{ name: string; kind: string; namespaced: boolean; verbs: string[] }>;
        }>('GET', path);
        resources = new Map();
        for (const r of list.resources) {
          if (r.name.includes('/')) continue; // subresources such as deployments/scale
          const [group, version] = apiVersion.includes('/')
            ? (apiVersion.split('/') as [string, string])
            : ['', apiVersion];
          resources.set(r.kind, {
            group,
            version,
            kind: r.kind,
            plural: r.name,
            namespaced: r.namespaced,
            verbs: r.verbs,
          });
        }
      } catch (err) {
        if (!(err instanceof KubeApiError && err.statusCode === 404)) throw err;
      }
      const entry = { fetchedAt: Date.now(), resources };
      this.#connection.groupVersions.set(apiVersion, entry);
      return entry;
    })().finally(() => this.#connection.pending.delete(apiVersion));
    this.#connection.pending.set(apiVersion, load);
    return load;
  }

  /**
   * The resource serving `kind` in `apiVersion`, or undefined when the server
   * does not know it. A miss refreshes discovery once, so CRDs established a
   * moment ago are found.
   */
  async resource(apiVersion: string, kind: string): Promise<ApiResource | undefined> {
    let entry = await this.#groupVersion(apiVersion, false);
    if (!entry.resources?.has(kind)) entry = await this.#groupVersion(apiVersion, true);
    return entry.resources?.get(kind);
  }

  /** Whether `kind` is namespaced; undefined for kinds the server does not serve. */
  async scopeOf(apiVersion: string, kind: string): Promise<'Namespaced' | 'Cluster' | undefined> {
    const r = await this.resource(apiVersion, kind);
    return r === undefined ? undefined : r.namespaced ? 'Namespaced' : 'Cluster';
  }

  /** The resource of `ref`; an {@link UnknownKindError} naming it when the server does not serve it. */
  async mustResource(ref: Pick<ObjectRef, 'apiVersion' | 'kind'>): Promise<ApiResource> {
    const r = await this.resource(ref.apiVersion, ref.kind);
    if (!r) throw new UnknownKindError(ref.apiVersion, ref.kind);
    return r;
  }

  /** URL path of a collection (namespace '' = all namespaces or cluster-scoped). */
  collectionPath(r: ApiResource, namespace: string): string {
    const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
    return r.namespaced && namespace
      ? `${base}/namespaces/${encodeURIComponent(namespace)}/${r.plural}`
      : `${base}/${r.plural}`;
  }

  async #objectPath(ref: ObjectRef): Promise<string> {
    const r = await this.mustResource(ref);
    return `${this.collectionPath(r, ref.namespace)}/${encodeURIComponent(ref.name)}`;
  }

  /** The live object, or undefined when it does not exist. */
  async get(ref: ObjectRef, signal?: AbortSignal): Promise<KubeObject | undefined> {
    try {
      return await this.request<KubeObject>('GET', await this.#objectPath(ref), { signal });
    } catch (err) {
      if (err instanceof KubeApiError && err.statusCode === 404) return undefined;
      throw err;
    }
  }

  /**
   * Server-side apply of `obj` with field manager `fieldManager`, taking over
   * conflicting fields (`force`). With `dryRun` nothing is written and the
   * answer is what the object would become.
   */
  async apply(
    obj: KubeObject,
    options: { fieldManager: string; dryRun?: boolean; force?: boolean; signal?: AbortSignal },
  ): Promise<KubeObject> {
    const ref = {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      namespace: obj.metadata.namespace ?? '',
      name: obj.metadata.name,
    };
    if (!options.dryRun && SERVING_KINDS.has(obj.kind)) this.#connection.apiWrites++;
    return this.request<KubeObject>('PATCH', await this.#objectPath(ref), {
      body: obj,
      contentType: 'application/apply-patch+yaml',
      query: {
        fieldManager: options.fieldManager,
        force: options.force ?? true,
        dryRun: options.dryRun ? 'All' : undefined,
      },
      signal: options.signal,
    });
  }

  /**
   * Creates `obj` (POST). With `dryRun`, nothing is written: the server
   * validates and admits the object, then answers 409 AlreadyExists when one
   * of that name exists — a way to check a replacement before deleting.
   */
  async create(
    obj: KubeObject,
    options: { fieldManager: string; dryRun?: boolean; signal?: AbortSignal },
  ): Promise<KubeObject> {
    const r = await this.mustResource(obj);
    return this.request<KubeObject>('POST', this.collectionPath(r, obj.metadata.namespace ?? ''), {
      body: obj,
      query: { fieldManager: options.fieldManager, dryRun: options.dryRun ? 'All' : undefined },
      signal: options.signal,
    });
  }

  /**
   * Applies a JSON patch (RFC 6902) to an object, e.g. to rewrite its
   * `metadata.managedFields`; a `test` operation makes it conditional.
   */
  async patchJson(
    ref: ObjectRef,
    operations: { op: string; path: string; value?: unknown }[],
    options: { fieldManager: string; signal?: AbortSignal },
  ): Promise<KubeObject> {
    return this.request<KubeObject>('PATCH', await this.#objectPath(ref), {
      body: operations,
      contentType: 'application/json-patch+json',
      query: { fieldManager: options.fieldManager },
      signal: options.signal,
    });
  }

  /**
   * Deletes an object; false when it was already gone. Background propagation
   * unless `propagation` says otherwise; `uid` deletes only that incarnation.
   */
  async delete(
    ref: ObjectRef,
    options: {
      dryRun?: boolean;
      signal?: AbortSignal;
      propagation?: 'Background' | 'Foreground' | 'Orphan';
      uid?: string;
    } = {},
  ): Promise<boolean> {
    try {
      await this.request('DELETE', await this.#objectPath(ref), {
        body: {
          kind: 'DeleteOptions',
          apiVersion: 'v1',
          propagationPolicy: options.propagation ?? 'Background',
          ...(options.uid ? { preconditions: { uid: options.uid } } : {}),
        },
        query: { dryRun: options.dryRun ? 'All' : undefined },
        signal: options.signal,
      });
      return true;
    } catch (err) {
      if (err instanceof KubeApiError && err.statusCode === 404) return false;
      throw err;
    }
  }

  /** Every object of a kind (all pages), with the list's resourceVersion for a following watch. */
  async list(
    apiVersion: string,
    kind: string,
    options: { namespace?: string; labelSelector?: string; signal?: AbortSignal } = {},
  ): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    const r = await this.mustResource({ apiVersion, kind });
    const path = this.collectionPath(r, options.namespace ?? '');
    const items: KubeObject[] = [];
    let token: string | undefined;
    let resourceVersion = '';
    do {
      const page = await this.request<{
        items: KubeObject[];
        metadata: { continue?: string; resourceVersion: string };
      }>('GET', path, {
        query: { labelSelector: options.labelSelector, limit: 500, continue: token },
        signal: options.signal,
      });
      for (const item of page.items) items.push({ ...item, apiVersion, kind });
      token = page.metadata.continue || undefined;
      resourceVersion = page.metadata.resourceVersion;
    } while (token);
    return { items, resourceVersion };
  }

  /**
   * One page of a collection: at most `limit` objects, and whether the
   * server has more (then `complete` is false and the items are only a part).
   */
  async listPage(
    apiVersion: string,
    kind: string,
    options: { namespace?: string; limit: number; signal?: AbortSignal },
  ): Promise<{ items: KubeObject[]; complete: boolean }> {
    const r = await this.mustResource({ apiVersion, kind });
    const page = await this.request<{ items: KubeObject[]; metadata: { continue?: string } }>(
      'GET',
      this.collectionPath(r, options.namespace ?? ''),
      { query: { limit: options.limit }, signal: options.signal },
    );
    return {
      items: page.items.map((item) => ({ ...item, apiVersion, kind })),
      complete: !page.metadata.continue,
    };
  }

  /**
   * Watches a collection from `resourceVersion`, calling `onEvent` for each
   * event until the server closes the stream or `signal` aborts. Resolves when
   * the stream ends; a 410 Gone arrives as an ERROR event (the caller re-lists).
   */
  async watch(
    apiVersion: string,
    kind: string,
    options: {
      namespace?: string;
      labelSelector?: string;
      resourceVersion: string;
      signal: AbortSignal;
      timeoutSeconds?: number;
    },
    onEvent: (event: WatchEvent) => void,
  ): Promise<void> {
    const r = await this.mustResource({ apiVersion, kind });
    const res = await this.#send('GET', this.collectionPath(r, options.namespace ?? ''), {
      query: {
        watch: 1,
        allowWatchBookmarks: true,
        labelSelector: options.labelSelector,
        resourceVersion: options.resourceVersion,
        timeoutSeconds: options.timeoutSeconds ?? 300,
      },
      signal: options.signal,
      timeoutMs: 0,
    });
    if ((res.statusCode ?? 0) >= 300)
      throw apiError('WATCH', kind, res.statusCode ?? 0, await readAll(res));
    res.setEncoding('utf8');
    let buffer = '';
    try {
      for await (const chunk of res) {
        buffer += chunk as string;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (!line) continue;
          const event = JSON.parse(line) as WatchEvent;
          if (event.type !== 'ERROR' && event.type !== 'BOOKMARK')
            event.object = { ...event.object, apiVersion, kind };
          onEvent(event);
        }
      }
    } catch (err) {
      if (!options.signal.aborted) throw err;
    }
  }
}

function readAll(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}
