import type { ObjectReader, Scope, ScopeResolver } from '../guard/index.ts';
import { BUILT_IN_GROUPS, groupOf, type KubeObject } from '../model.ts';

/**
 * The cluster-scoped kinds Kubernetes itself serves, keyed by `group/kind`.
 * Every other built-in kind is namespaced; scopes do not change between
 * versions of a group, so the version is not part of the key.
 */
const CLUSTER_SCOPED = new Set([
  '/Namespace',
  '/Node',
  '/PersistentVolume',
  '/ComponentStatus',
  'apiextensions.k8s.io/CustomResourceDefinition',
  'apiregistration.k8s.io/APIService',
  'admissionregistration.k8s.io/MutatingWebhookConfiguration',
  'admissionregistration.k8s.io/ValidatingWebhookConfiguration',
  'admissionregistration.k8s.io/ValidatingAdmissionPolicy',
  'admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding',
  'admissionregistration.k8s.io/MutatingAdmissionPolicy',
  'admissionregistration.k8s.io/MutatingAdmissionPolicyBinding',
  'rbac.authorization.k8s.io/ClusterRole',
  'rbac.authorization.k8s.io/ClusterRoleBinding',
  'storage.k8s.io/StorageClass',
  'storage.k8s.io/CSIDriver',
  'storage.k8s.io/CSINode',
  'storage.k8s.io/VolumeAttachment',
  'storage.k8s.io/VolumeAttributesClass',
  'scheduling.k8s.io/PriorityClass',
  'node.k8s.io/RuntimeClass',
  'networking.k8s.io/IngressClass',
  'networking.k8s.io/IPAddress',
  'networking.k8s.io/ServiceCIDR',
  'certificates.k8s.io/CertificateSigningRequest',
  'certificates.k8s.io/ClusterTrustBundle',
  'flowcontrol.apiserver.k8s.io/FlowSchema',
  'flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration',
  'resource.k8s.io/DeviceClass',
  'resource.k8s.io/ResourceSlice',
]);

/**
 * Tells scopes without a cluster, for `render --offline`: built-in kinds
 * from a table; any other kind is taken as namespaced (most custom
 * resources are) and reported once through `warn`, since a cluster-scoped
 * custom kind would then be given a namespace.
 */
export class OfflineScopes implements ScopeResolver, ObjectReader {
  readonly #warn: (message: string) => void;
  readonly #warned = new Set<string>();

  constructor(warn: (message: string) => void) {
    this.#warn = warn;
  }

  /** The scope from the table; unknown kinds are `Namespaced`. */
  async scopeOf(apiVersion: string, kind: string): Promise<Scope> {
    const group = groupOf(apiVersion);
    const key = `${group}/${kind}`;
    if (CLUSTER_SCOPED.has(key)) return 'Cluster';
    if (!BUILT_IN_GROUPS.has(group) && !this.#warned.has(key)) {
      this.#warned.add(key);
      this.#warn(
        `kind ${kind} (${apiVersion}) is not built in and there is no cluster to ask: taking it as namespaced`,
      );
    }
    return 'Namespaced';
  }

  /** Nothing: without a cluster no object exists yet (the agent checks again against its cluster). */
  async get(): Promise<KubeObject | undefined> {
    return undefined;
  }
}
