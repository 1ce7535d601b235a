/**
 * What keeps a tenant's app in its lane: the namespaces its objects may be
 * in, and the cluster-scoped kinds it may create. Everything cluster-scoped
 * reaches past a namespace (ClusterRoleBindings, webhooks, CRDs,
 * PersistentVolumes, StorageClasses, APIServices, PriorityClasses, other
 * teams' Namespaces, custom resources of cluster-scoped kinds), so an app
 * limited to namespaces gets none of it unless it lists the kind.
 */
import { groupOf, type AppSpec, type ObjectRef } from '../model.ts';

/** The limits of one app, compiled once per guard run. */
export interface Lane {
  /** Namespaces the app may use; undefined for any. */
  namespaces: Set<string> | undefined;
  /** Whether the app may create a cluster-scoped object of `group/kind`. */
  allowsClusterKind(group: string, kind: string): boolean;
}

/** Compiles the app's limits (see {@link AppSpec.allowedNamespaces} and {@link AppSpec.allowedClusterKinds}). */
export function laneOf(app: AppSpec): Lane {
  const namespaces =
    app.allowedNamespaces.length > 0
      ? new Set(app.allowedNamespaces)
      : app.namespace
        ? new Set([app.namespace])
        : undefined;
  const kinds = new Set(app.allowedClusterKinds);
  return {
    namespaces,
    allowsClusterKind: (group, kind) =>
      kinds.has('*') ||
      kinds.has(group ? `${group}/${kind}` : kind) ||
      kinds.has(`${group}/*`) ||
      (group === '' && kinds.has(`/${kind}`)),
  };
}

/**
 * Why `ref` (namespace already defaulted, '' when cluster-scoped) is outside
 * the app's lane, or undefined when it is inside. A Namespace object counts
 * as being in itself: an app may declare the Namespaces it may use, never
 * another team's, whatever kinds it lists.
 */
export function laneProblem(app: AppSpec, lane: Lane, ref: ObjectRef): string | undefined {
  const allowed = lane.namespaces;
  const list = allowed && [...allowed].join(', ');
  if (ref.namespace) {
    if (allowed && !allowed.has(ref.namespace))
      return `namespace ${ref.namespace} is not allowed for app ${app.name} (allowed: ${list})`;
    return undefined;
  }
  const group = groupOf(ref.apiVersion);
  if (group === '' && ref.kind === 'Namespace') {
    if (allowed && !allowed.has(ref.name))
      return `namespace ${ref.name} is not allowed for app ${app.name} (allowed: ${list})`;
    return undefined;
  }
  if (lane.allowsClusterKind(group, ref.kind)) return undefined;
  const name = group ? `${group}/${ref.kind}` : ref.kind;
  return `${ref.kind} is cluster-scoped and app ${app.name} is limited to namespaces (${list ?? 'none'}); allowedClusterKinds must list "${name}"`;
}
