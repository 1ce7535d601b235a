/** The CustomResourceDefinition the schema-check tests build their custom resources on. */
import type { KubeObject } from '@driftless/agent';

/** What {@link exampleCrd} varies. */
export interface ExampleCrdOptions {
  /** Plural resource name, e.g. `widgets`; the CRD is named `<plural>.example.com`. */
  plural: string;
  /** Kind, e.g. `Widget`; its singular is the kind in lower case. */
  kind: string;
  /** The OpenAPI v3 schema of the objects' `spec` field. */
  spec: Record<string, unknown>;
}

/**
 * A namespaced CRD of group `example.com`, one version `v1` (served, stored) whose objects
 * have `spec` as their `spec` schema.
 */
export function exampleCrd(o: ExampleCrdOptions): KubeObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${o.plural}.example.com` },
    spec: {
      group: 'example.com',
      scope: 'Namespaced',
      names: {
        plural: o.plural,
        singular: o.kind.toLowerCase(),
        kind: o.kind,
        listKind: `${o.kind}List`,
      },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: { type: 'object', properties: { spec: o.spec } },
          },
        },
      ],
    },
  };
}
