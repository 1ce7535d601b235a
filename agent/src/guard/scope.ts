import { groupOf, type RenderedObject } from '../model.ts';

/** Whether objects of a kind live in a namespace or in the cluster as a whole. */
export type Scope = 'Namespaced' | 'Cluster';

/**
 * Tells the scope of a kind as the cluster serves it (from API discovery).
 * Returns undefined when the cluster has no such kind at that apiVersion.
 */
export interface ScopeResolver {
  scopeOf(apiVersion: string, kind: string): Promise<Scope | undefined>;
}

/** A kind defined by a CustomResourceDefinition of the render itself. */
interface DefinedKind {
  scope: Scope;
  versions: string[];
  /** The CRD's name, for messages. */
  crd: string;
}

/**
 * The kinds that CustomResourceDefinitions in the render define, keyed by
 * `group/kind`. Such kinds are not served by the cluster yet (their CRD is
 * applied in the same sync, first), so discovery alone would refuse them.
 */
export function kindsDefinedBy(rendered: RenderedObject[]): Map<string, DefinedKind> {
  const kinds = new Map<string, DefinedKind>();
  for (const { object } of rendered) {
    if (object.kind !== 'CustomResourceDefinition') continue;
    if (groupOf(String(object.apiVersion)) !== 'apiextensions.k8s.io') continue;
    const spec = object['spec'] as
      | {
          group?: unknown;
          scope?: unknown;
          names?: { kind?: unknown };
          versions?: { name?: unknown }[];
          version?: unknown;
        }
      | undefined;
    const kind = spec?.names?.kind;
    if (typeof spec?.group !== 'string' || typeof kind !== 'string') continue;
    const versions = (Array.isArray(spec.versions) ? spec.versions : [])
      .map((v) => v?.name)
      .concat(spec.version)
      .filter((v): v is string => typeof v === 'string');
    kinds.set(`${spec.group}/${kind}`, {
      scope: spec.scope === 'Cluster' ? 'Cluster' : 'Namespaced',
      versions,
      crd: object.metadata?.name ?? `${kind}.${spec.group}`,
    });
  }
  return kinds;
}
