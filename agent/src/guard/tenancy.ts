/**
 * What keeps a tenant's app in its lane: the namespaces its objects may be
 * in, and the cluster-scoped kinds it may create. Everything cluster-scoped
 * reaches past a namespace (ClusterRoleBindings, webhooks, PersistentVolumes,
 * StorageClasses, APIServices, PriorityClasses, other teams' Namespaces,
 * custom resources of cluster-scoped kinds), so an app limited to namespaces
 * gets none of it unless it lists the kind. One exception by default
 * ({@link NEW_OR_OWN_CRDS}): CustomResourceDefinitions that do not exist yet
 * or that the app already owns, because real charts ship their CRDs with
 * their resources; taking over a CRD that exists and is someone else's
 * still needs the kind listed.
 */
import { DriftlessError, classify, errorMessage } from '@driftless/common';
import {
  groupOf,
  Marks,
  NEW_OR_OWN_CRDS,
  refString,
  type AppSpec,
  type KubeObject,
  type ObjectRef,
} from '../model.ts';

/** The group/kind of CustomResourceDefinitions, as allowedClusterKinds lists it. */
const CRD_KIND = 'apiextensions.k8s.io/CustomResourceDefinition';

/** Reads one live object: the guard's client (`KubeClient.get`). */
export interface ObjectReader {
  /** The live object, or undefined when it does not exist; API errors are thrown. */
  get(ref: ObjectRef): Promise<KubeObject | undefined>;
}

/** The limits of one app, compiled once per guard run. */
export interface Lane {
  /** Namespaces the app may use; undefined for any. */
  namespaces: Set<string> | undefined;
  /** Whether the app may create a cluster-scoped object of `group/kind`, whatever exists. */
  allowsClusterKind(group: string, kind: string): boolean;
  /** Whether the app may create CRDs that do not exist yet and keep its own ({@link NEW_OR_OWN_CRDS}). */
  newOrOwnCrds: boolean;
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
    newOrOwnCrds: kinds.has(NEW_OR_OWN_CRDS),
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
  // Allowed here, subject to crdTakeovers once the guard knows what exists.
  if (onlyNewOrOwn(lane, ref)) return undefined;
  const name = group ? `${group}/${ref.kind}` : ref.kind;
  return `${ref.kind} is cluster-scoped and app ${app.name} is limited to namespaces (${list ?? 'none'}); allowedClusterKinds must list "${name}"`;
}

/**
 * Whether `ref` is a CRD the app may create only if it is new or its own:
 * the one kind {@link crdTakeovers} must look up in the cluster.
 */
export function onlyNewOrOwn(lane: Lane, ref: ObjectRef): boolean {
  return (
    lane.newOrOwnCrds &&
    `${groupOf(ref.apiVersion)}/${ref.kind}` === CRD_KIND &&
    !lane.allowsClusterKind('apiextensions.k8s.io', 'CustomResourceDefinition')
  );
}

/**
 * Why each of `crds` (refs for which {@link onlyNewOrOwn} holds) would take
 * over a CRD that exists and is not the app's: one GET per CRD. A CRD is the
 * app's when its ownership labels name the app or `holds` says the app's
 * inventory has it. A read the classifier calls terminal (RBAC denies it)
 * becomes a problem; any other read error is thrown, wrapped, for the pass
 * to retry.
 */
export async function crdTakeovers(
  app: AppSpec,
  lane: Lane,
  crds: { ref: ObjectRef; who: string }[],
  cluster: ObjectReader,
  holds: (ref: ObjectRef) => boolean,
): Promise<string[]> {
  const list = lane.namespaces ? [...lane.namespaces].join(', ') : 'none';
  const adopt = `to adopt it, allowedClusterKinds must list "${CRD_KIND}"`;
  const answers = await Promise.all(
    crds.map(async ({ ref, who }) => {
      if (holds(ref)) return undefined;
      let live: KubeObject | undefined;
      try {
        live = await cluster.get(ref);
      } catch (err) {
        if (classify(err) !== 'terminal')
          throw new DriftlessError(
            `app ${app.name}: reading ${refString(ref)} to tell whether it exists failed: ${errorMessage(err)}`,
            { cause: err },
          );
        return `${who}: cannot tell whether it exists (${errorMessage(err)}); app ${app.name} may create only new CRDs or its own; ${adopt}`;
      }
      if (!live) return undefined;
      const labels = live.metadata.labels ?? {};
      const ours = labels[Marks.managedBy] === Marks.managedByValue;
      const owner = ours ? labels[Marks.app] : undefined;
      if (owner === app.name) return undefined;
      const whose = owner ? `owned by app ${owner}` : 'created outside Driftless';
      return `${who}: CustomResourceDefinition ${ref.name} already exists (${whose}) and app ${app.name} is limited to namespaces (${list}): it may create only new CRDs or its own; ${adopt}`;
    }),
  );
  return answers.filter((p): p is string => p !== undefined);
}
