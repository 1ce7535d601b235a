import { WaitingError } from '@driftless/common';
import { Marks, refOf, refString, type KubeObject, type ObjectRef } from '../model.ts';
import {
  mayApplyAny,
  objectError,
  rulesAllowApplyAny,
  rulesIn,
  type KubeClient,
  type WriteScope,
} from '../kube/index.ts';
import { mapLimit } from './limit.ts';
// The file, not the folder's index: export/ uses plan/, and this must not make a cycle.
import { discoverNamespacedKinds } from '../export/discover.ts';

/** Objects Kubernetes itself puts in every namespace, or that only record what happened. */
function createdByKubernetes(group: string, kind: string, obj: KubeObject): boolean {
  if (kind === 'Event') return true;
  if (group === '' && kind === 'ConfigMap' && obj.metadata.name === 'kube-root-ca.crt') return true;
  if (group === '' && kind === 'ServiceAccount' && obj.metadata.name === 'default') return true;
  // Endpoints mirror a Service of the same name; EndpointSlices have owners.
  if (group === '' && kind === 'Endpoints') return true;
  return false;
}

/**
 * The first object in `namespace` that app `app` does not own (no
 * `driftless.dev/app=<app>` label and no owner reference — children of the
 * app's objects count as the app's), as `Kind name`; undefined when there is
 * none. A Namespace is never pruned while it holds such an object.
 */
export async function foreignObjectIn(
  client: KubeClient,
  namespace: string,
  app: string,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const kinds = await discoverNamespacedKinds({ client, signal });
  for (const r of kinds) {
    const { items } = await client.list(r.group ? `${r.group}/${r.version}` : r.version, r.kind, {
      namespace,
      labelSelector: `${Marks.app}!=${app}`,
      signal,
    });
    const foreign = items.find((o) => {
      const owners = o.metadata['ownerReferences'];
      if (Array.isArray(owners) && owners.length > 0) return false;
      return !createdByKubernetes(r.group, r.kind, o);
    });
    if (foreign) return `${r.kind} ${foreign.metadata.name}`;
  }
  return undefined;
}

/**
 * Namespaces that objects of the app need and that neither the render nor
 * the cluster has. Waiting: another app, or a person, may still create them.
 */
export class MissingNamespaceError extends WaitingError {
  override name = 'MissingNamespaceError';
  readonly namespaces: string[];
  constructor(namespaces: string[], example: ObjectRef, objects: number) {
    const others = objects > 1 ? ` and ${objects - 1} more object${objects > 2 ? 's' : ''}` : '';
    super(
      `namespace${namespaces.length === 1 ? '' : 's'} ${namespaces.join(', ')} ${namespaces.length === 1 ? 'does' : 'do'} not exist (needed by ${refString(example)}${others}): add a Namespace object to the app, set createNamespace: true on the app, or create it first`,
    );
    this.namespaces = namespaces;
  }
}

/** Fails with {@link MissingNamespaceError} when a namespace the objects need exists nowhere. */
export async function checkNamespaces(
  objects: KubeObject[],
  creating: ReadonlySet<string>,
  client: KubeClient,
  signal: AbortSignal | undefined,
): Promise<void> {
  const needed = new Map<string, ObjectRef>();
  const count = new Map<string, number>();
  for (const o of objects) {
    const ns = o.metadata.namespace;
    if (!ns || creating.has(ns)) continue;
    if (!needed.has(ns)) needed.set(ns, refOf(o));
    count.set(ns, (count.get(ns) ?? 0) + 1);
  }
  const missing: string[] = [];
  await mapLimit([...needed.keys()], 4, async (name) => {
    const ref = { apiVersion: 'v1', kind: 'Namespace', namespace: '', name };
    const live = await client.get(ref, signal).catch((err: unknown) => {
      throw objectError('plan', ref, err);
    });
    if (!live) missing.push(name);
  });
  if (missing.length > 0) {
    missing.sort();
    const total = missing.reduce((n, name) => n + (count.get(name) ?? 0), 0);
    throw new MissingNamespaceError(missing, needed.get(missing[0] ?? '') as ObjectRef, total);
  }
}

/** The key of an object's kind in its namespace, as {@link writableScopes} holds it. */
export const scopeKey = (group: string, resource: string, namespace: string): string =>
  `${group}/${resource}/${namespace}`;

/**
 * The kinds of `objects` (each in a Namespace that does not exist yet) that
 * the client's identity may create under any name there, as
 * {@link scopeKey}s. One SelfSubjectRulesReview per namespace answers for all
 * its kinds; where its answer is incomplete or carries an evaluation error (or
 * it cannot be asked), a pair of access reviews per kind does. A kind a complete answer does not grant is
 * left out: its objects get the server's dry-run. Kinds the server does not
 * serve are left out.
 */
export async function writableScopes(
  client: KubeClient,
  objects: KubeObject[],
  concurrency: number,
  signal: AbortSignal | undefined,
): Promise<Set<string>> {
  const byNamespace = new Map<string, Map<string, WriteScope>>();
  for (const o of objects) {
    const served = await client.resource(o.apiVersion, o.kind).catch(() => undefined);
    const namespace = o.metadata.namespace ?? '';
    if (!served) continue;
    const scopes = byNamespace.get(namespace) ?? new Map<string, WriteScope>();
    byNamespace.set(namespace, scopes);
    scopes.set(scopeKey(served.group, served.plural, namespace), {
      group: served.group,
      resource: served.plural,
      namespace,
    });
  }
  const allowed = new Set<string>();
  const unsure: [string, WriteScope][] = [];
  await mapLimit([...byNamespace], concurrency, async ([namespace, scopes]) => {
    const answer = await rulesIn(client, namespace, signal);
    for (const [key, scope] of scopes) {
      // Only a complete answer is trusted either way: an authorizer that cannot list its rules
      // (a webhook) may also deny what the listed rules grant.
      if (!answer?.complete) unsure.push([key, scope]);
      else if (rulesAllowApplyAny(answer.rules, scope)) allowed.add(key);
    }
  });
  await mapLimit(unsure, concurrency, async ([key, scope]) => {
    if (await mayApplyAny(client, scope, signal)) allowed.add(key);
  });
  return allowed;
}
