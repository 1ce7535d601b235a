// An in-memory stand-in for our KubeClient, for unit tests of the engine at its interfaces
// (plan, apply, inventory, report, reconcile). It keeps objects by reference, answers
// server-side apply by storing what was sent, and fails the requests a test asks it to fail
// with the same KubeApiError the real client throws for that HTTP status.
import { KubeApiError, type ApiResource, type KubeClient } from '../../src/kube/index.ts';
import { refKey, refOf, type KubeObject, type ObjectRef } from '../../src/model.ts';

/** A request verb of the fake. */
export type Verb = 'get' | 'apply' | 'dry-run' | 'delete' | 'list' | 'event';

/** A failure to inject: the next `times` matching requests answer `status`. */
export interface Failure {
  verb: Verb;
  status: number;
  reason?: string;
  /** Only requests about objects this accepts fail; all when unset. */
  match?: (ref: ObjectRef) => boolean;
  /** How many requests fail; Infinity by default. */
  times?: number;
}

const CLUSTER_SCOPED = new Set([
  'Namespace',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'PersistentVolume',
  'StorageClass',
]);

/** Objects in memory, with requests recorded and failures injected. */
export class FakeKube {
  readonly objects = new Map<string, KubeObject>();
  /** Every request, in order: verb and object (`kind ns/name`). */
  readonly calls: { verb: Verb; ref: string }[] = [];
  /** Bodies of the Events posted. */
  readonly events: Record<string, unknown>[] = [];
  #failures: Failure[] = [];
  #held = new Map<Verb, (ref: ObjectRef) => boolean>();
  #release: (() => void)[] = [];
  #rv = 1;

  /** The fake as the KubeClient type the engine takes. */
  get client(): KubeClient {
    return this as unknown as KubeClient;
  }

  /** Makes matching requests fail; see {@link Failure}. */
  fail(f: Failure): void {
    this.#failures.push({ times: Infinity, ...f });
  }

  /**
   * Makes requests of `verb` wait until {@link release} or until their signal
   * aborts (then they reject with the signal's reason, as the real client does).
   */
  hold(verb: Verb, match: (ref: ObjectRef) => boolean = () => true): void {
    this.#held.set(verb, match);
  }

  /** Lets held requests go on. */
  release(): void {
    this.#held.clear();
    for (const r of this.#release.splice(0)) r();
  }

  /** How many requests are held right now. */
  get heldCount(): number {
    return this.#release.length;
  }

  async #wait(verb: Verb, ref: ObjectRef, signal: AbortSignal | undefined): Promise<void> {
    if (!this.#held.get(verb)?.(ref)) return;
    await new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      this.#release.push(resolve);
      signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
    });
  }

  /** Stops every injected failure. */
  heal(): void {
    this.#failures = [];
  }

  /** Count of requests of `verb` so far. */
  count(verb: Verb): number {
    return this.calls.filter((c) => c.verb === verb).length;
  }

  #check(verb: Verb, ref: ObjectRef): void {
    this.calls.push({ verb, ref: `${ref.kind} ${ref.namespace ?? ''}/${ref.name}` });
    const f = this.#failures.find((x) => x.verb === verb && (!x.match || x.match(ref)));
    if (!f) return;
    if (f.times !== undefined && --f.times <= 0)
      this.#failures.splice(this.#failures.indexOf(f), 1);
    const reason = f.reason ?? `Status${f.status}`;
    throw new KubeApiError(
      `${verb.toUpperCase()} ${ref.name}: ${f.status} ${reason}: injected`,
      f.status,
      reason,
    );
  }

  async scopeOf(_apiVersion: string, kind: string): Promise<'Namespaced' | 'Cluster'> {
    return CLUSTER_SCOPED.has(kind) ? 'Cluster' : 'Namespaced';
  }

  /** Every kind is served, with the verbs server-side apply needs. */
  /** What a real client shares with its impersonating copies (a cache key). */
  readonly scope: object = {};
  readonly apiWrites = 0;

  async resource(apiVersion: string, kind: string): Promise<ApiResource> {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
    return {
      group: group ?? '',
      version: version ?? '',
      kind,
      plural: `${kind.toLowerCase()}s`,
      namespaced: !CLUSTER_SCOPED.has(kind),
      verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
    };
  }

  async get(ref: ObjectRef): Promise<KubeObject | undefined> {
    this.#check('get', ref);
    return structuredClone(this.objects.get(refKey(ref)));
  }

  async apply(
    obj: KubeObject,
    options: { dryRun?: boolean; signal?: AbortSignal },
  ): Promise<KubeObject> {
    const ref = refOf(obj);
    const verb = options.dryRun ? 'dry-run' : 'apply';
    await this.#wait(verb, ref, options.signal);
    this.#check(verb, ref);
    const live = this.objects.get(refKey(ref));
    const out: KubeObject = structuredClone({
      ...obj,
      metadata: {
        ...obj.metadata,
        ...(obj.metadata.namespace || CLUSTER_SCOPED.has(obj.kind) ? {} : { namespace: 'default' }),
        resourceVersion: options.dryRun
          ? ((live?.metadata['resourceVersion'] as string | undefined) ?? '0')
          : String(++this.#rv),
      },
    });
    if (!options.dryRun) this.objects.set(refKey(ref), out);
    return structuredClone(out);
  }

  async delete(ref: ObjectRef, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    await this.#wait('delete', ref, options.signal);
    this.#check('delete', ref);
    return this.objects.delete(refKey(ref));
  }

  async list(
    apiVersion: string,
    kind: string,
    options: { namespace?: string; labelSelector?: string } = {},
  ): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    this.#check('list', { apiVersion, kind, namespace: options.namespace ?? '', name: '*' });
    const terms = (options.labelSelector ?? '')
      .split(',')
      .filter(Boolean)
      .map((t) => t.split('='));
    const items = [...this.objects.values()].filter(
      (o) =>
        o.apiVersion === apiVersion &&
        o.kind === kind &&
        (!options.namespace || o.metadata.namespace === options.namespace) &&
        terms.every(([k, v]) => o.metadata.labels?.[k ?? ''] === v),
    );
    return { items: structuredClone(items), resourceVersion: String(this.#rv) };
  }

  async listPage(
    apiVersion: string,
    kind: string,
    options: { namespace?: string; limit: number },
  ): Promise<{ items: KubeObject[]; complete: boolean }> {
    const { items } = await this.list(apiVersion, kind, { namespace: options.namespace });
    return { items: items.slice(0, options.limit), complete: items.length <= options.limit };
  }

  async request(method: string, path: string, options: { body?: unknown } = {}): Promise<unknown> {
    if (method === 'POST' && path.endsWith('/events')) {
      const body = options.body as Record<string, unknown>;
      this.#check('event', {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        namespace: '',
        name: String(body['reason']),
      });
      this.events.push(body);
      return body;
    }
    throw new Error(`FakeKube: ${method} ${path} is not faked`);
  }
}
