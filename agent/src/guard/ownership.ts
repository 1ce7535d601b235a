/**
 * One object, one owner. When two apps of a cluster declare the same object,
 * exactly one of them owns it: the app whose stored inventory already holds
 * it (it applied it first), otherwise the app listed first in
 * `driftless.yaml`. The other app's sync is refused by the guard, so no app
 * takes an object over silently and its content and labels never flip
 * between apps; and no app prunes an object another app still declares.
 *
 * An app that drops an object from Git lets go of it: when another app
 * declares it, that app becomes its owner in the same pass (moving an object
 * from one app to another is two edits in one commit, or two commits).
 */
import { refKey, refString, type AppSpec, type ObjectRef, type RenderedObject } from '../model.ts';
import { kindsDefinedBy, type ScopeResolver } from './scope.ts';
import { laneOf, laneProblem } from './tenancy.ts';

/** Why another app owns an object. */
export interface Claim {
  /** The app that owns the object. */
  owner: string;
  /** `inventory`: the owner applied it first; `order`: listed first in driftless.yaml. */
  reason: 'inventory' | 'order';
}

/** What the guard and prune ask about the other apps of the cluster. */
export interface OwnershipView {
  /** The other app that owns `ref` when `app` declares it, or undefined when `app` may own it. */
  ownerOf(app: string, ref: ObjectRef): Claim | undefined;
  /** The refs of `app`'s inventory it may prune: those no other app declares. */
  prunable(app: string, refs: ObjectRef[]): ObjectRef[];
  /** Whether `app`'s stored inventory holds `ref` (it applied it). */
  holds(app: string, ref: ObjectRef): boolean;
  /**
   * The other apps whose render failed this pass, so what they declare is unknown: any object
   * `app` no longer declares may be theirs now (an app renamed, an object moved), so while
   * there is one, nothing is pruned as "declared by no one".
   */
  undeclared(app: string): string[];
}

/** The guard's message for an object owned by another app. */
export function ownerProblem(app: string, ref: ObjectRef, claim: Claim): string {
  const why =
    claim.reason === 'inventory'
      ? `it applied ${refString(ref)} first`
      : `it is listed before ${app} in driftless.yaml`;
  return `also declared by app ${claim.owner}, which owns it (${why}); an object belongs to one app: remove it from ${app} or from ${claim.owner}`;
}

/** Where {@link Ownership} reads what each app applied. */
export interface InventoryReader {
  load(app: string): Promise<{ objects: ObjectRef[] } | undefined>;
}

/** Options of {@link Ownership}. */
export interface OwnershipOptions {
  /** The apps' stored inventories. */
  inventory: InventoryReader;
  /** Kind scopes, to default the namespace of declared objects as the guard does. */
  scopes: ScopeResolver;
}

/** What one app declares, for the revision and spec it was rendered at. */
interface Declared {
  key: string;
  /** refKeys; undefined when the render failed (the app then keeps what it holds). */
  keys: Set<string> | undefined;
}

/**
 * The cluster-wide view of who declares and who holds what, refreshed at the
 * start of every reconcile pass by {@link Ownership.begin} and read by every
 * app's guard and prune during the pass. A snapshot per pass makes the answer
 * the same whichever app gets there first.
 */
export class Ownership implements OwnershipView {
  readonly #o: OwnershipOptions;
  #order: string[] = [];
  #held = new Map<string, Set<string>>();
  readonly #declared = new Map<string, Declared>();

  constructor(options: OwnershipOptions) {
    this.#o = options;
  }

  /**
   * Starts a pass over `apps` (in driftless.yaml order) at `revision`: loads
   * every app's inventory and learns what each app declares, calling `render`
   * only for apps whose revision or spec changed since it last did — or, with
   * `contentKey`, whose key changed (a digest of what the render reads, so a
   * commit that leaves an app's files alone does not render it). A render
   * that fails leaves that app's declaration unknown, never empty. Inventory
   * read errors are thrown (the pass then fails and retries).
   */
  async begin(
    apps: AppSpec[],
    revision: string,
    render: (app: AppSpec) => Promise<RenderedObject[]>,
    contentKey?: (app: AppSpec) => Promise<string | undefined>,
  ): Promise<void> {
    const held = new Map<string, Set<string>>();
    // Read while the apps render; awaited (and its error thrown) once they have.
    const loading = Promise.all(
      apps.map(async (app) => {
        const record = await this.#o.inventory.load(app.name);
        held.set(app.name, new Set((record?.objects ?? []).map(refKey)));
      }),
    );
    loading.catch(() => undefined);
    const names = new Set(apps.map((a) => a.name));
    for (const name of this.#declared.keys()) if (!names.has(name)) this.#declared.delete(name);
    const keyed = await Promise.all(
      apps.map(async (app) => ({
        app,
        key: (await contentKey?.(app)) ?? cacheKey(app, revision),
      })),
    );
    // A few at a time: renders run helm and kustomize processes.
    const queue = keyed.filter(({ app, key }) => this.#declared.get(app.name)?.key !== key);
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const { app, key } = next;
        const keys = await render(app)
          .then((rendered) => declaredKeys(rendered, app, this.#o.scopes))
          .catch(() => undefined);
        // A failed render is tried again at the next commit, as before content keys.
        this.#declared.set(app.name, { key: keys ? key : cacheKey(app, revision), keys });
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    await loading;
    this.#order = apps.map((a) => a.name);
    this.#held = held;
  }

  ownerOf(app: string, ref: ObjectRef): Claim | undefined {
    const key = refKey(ref);
    const claims: { app: string; holds: boolean }[] = [];
    const order = this.#order.includes(app) ? this.#order : [...this.#order, app];
    for (const name of order) {
      const holds = this.#held.get(name)?.has(key) ?? false;
      if (name === app || this.#declares(name, key, holds)) claims.push({ app: name, holds });
    }
    const first = claims.find((c) => c.holds) ?? claims[0];
    if (!first || first.app === app) return undefined;
    return { owner: first.app, reason: first.holds ? 'inventory' : 'order' };
  }

  prunable(app: string, refs: ObjectRef[]): ObjectRef[] {
    return refs.filter((ref) => {
      const key = refKey(ref);
      return !this.#order.some(
        (name) =>
          name !== app && this.#declares(name, key, this.#held.get(name)?.has(key) ?? false),
      );
    });
  }

  holds(app: string, ref: ObjectRef): boolean {
    return this.#held.get(app)?.has(refKey(ref)) ?? false;
  }

  undeclared(app: string): string[] {
    return this.#order.filter(
      (name) => name !== app && this.#declared.get(name)?.keys === undefined,
    );
  }

  /** Whether `app` declares `key`; an unknown declaration keeps what the app holds. */
  #declares(app: string, key: string, holds: boolean): boolean {
    const keys = this.#declared.get(app)?.keys;
    return keys ? keys.has(key) : holds;
  }
}

function cacheKey(app: AppSpec, revision: string): string {
  return `${revision}|${JSON.stringify(app)}`;
}

/**
 * The refKeys of what an app renders, namespaces defaulted as the guard
 * defaults them. Objects outside the app's namespaces and cluster kinds are
 * skipped: the guard never applies them, so they claim nothing (a tenant
 * cannot keep the platform from pruning its objects by declaring them).
 */
export async function declaredKeys(
  rendered: RenderedObject[],
  app: AppSpec,
  scopes: ScopeResolver,
): Promise<Set<string>> {
  const defined = kindsDefinedBy(rendered);
  const lane = laneOf(app);
  const keys = new Set<string>();
  for (const { object } of rendered) {
    const { apiVersion, kind } = object as { apiVersion: unknown; kind: unknown };
    const name: unknown = object.metadata?.name;
    if (typeof apiVersion !== 'string' || typeof kind !== 'string' || typeof name !== 'string')
      continue;
    const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
    const scope =
      defined.get(`${group}/${kind}`)?.scope ??
      (await scopes.scopeOf(apiVersion, kind).catch(() => undefined));
    if (!scope) continue;
    const namespace =
      scope === 'Namespaced' ? String(object.metadata.namespace || app.namespace) : '';
    const ref = { apiVersion, kind, namespace, name };
    if (!laneProblem(app, lane, ref)) keys.add(refKey(ref));
  }
  // The Namespace the sync creates for the app (createNamespace) is declared too.
  if (app.createNamespace && app.namespace)
    keys.add(refKey({ apiVersion: 'v1', kind: 'Namespace', namespace: '', name: app.namespace }));
  return keys;
}
