/**
 * The agent's core vocabulary: Kubernetes objects as rendered from Git or read
 * from the cluster, references to them, the marks Driftless puts on what it
 * owns, and the per-app settings from `driftless.yaml`.
 */

/** Metadata fields the agent reads or writes; anything else passes through. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

/** A Kubernetes object as JSON. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** Identifies one object; `namespace` is '' for cluster-scoped objects. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
}

/** An object as rendered, with where it came from for error messages. */
export interface RenderedObject {
  object: KubeObject;
  /** File (relative to the repository root) or renderer step that produced it. */
  source: string;
}

/** The object's `metadata.uid` ('' when unset, e.g. not yet created). */
export function uidOf(obj: KubeObject): string {
  const uid = obj.metadata['uid'];
  return typeof uid === 'string' ? uid : '';
}

/** The reference of an object. */
export function refOf(obj: KubeObject): ObjectRef {
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    namespace: obj.metadata.namespace ?? '',
    name: obj.metadata.name,
  };
}

/** The API group of an apiVersion: '' for the core group (`v1`). */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/**
 * A key that is equal for the same object across API versions of its group
 * (apps/v1 and apps/v1beta1 Deployments are one object).
 */
export function refKey(ref: ObjectRef): string {
  return `${groupOf(ref.apiVersion)}/${ref.kind}/${ref.namespace}/${ref.name}`;
}

/** How people read a reference in messages: `Deployment podinfo/web`, `Namespace podinfo`. */
export function refString(ref: ObjectRef): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}

/**
 * The entry of {@link AppSpec.allowedClusterKinds} that an app limited to
 * namespaces gets by default: it may create CustomResourceDefinitions that
 * do not exist in the cluster yet and keep those it owns, never take over
 * one that exists and is someone else's. Not a kind pattern, so no one can
 * write it in `driftless.yaml`.
 */
export const NEW_OR_OWN_CRDS = 'apiextensions.k8s.io/CustomResourceDefinition (new or own)';

/** Labels and annotations Driftless reads and writes. */
export const Marks = {
  /** Label: set on every object the agent applies; prune deletes only objects carrying it. */
  managedBy: 'app.kubernetes.io/managed-by',
  /** Value of {@link Marks.managedBy}. */
  managedByValue: 'driftless',
  /** Label: the app that owns the object. */
  app: 'driftless.dev/app',
  /** Annotation: the Git revision of the sync that last wrote the object. */
  revision: 'driftless.dev/revision',
  /** Annotation: the trace id of the sync that last wrote the object. */
  traceId: 'driftless.dev/trace-id',
  /** Annotation: W3C traceparent of that sync's root span, so a heal can link to it. */
  traceparent: 'driftless.dev/traceparent',
  /** Annotation (input): apply order within a phase; lower first, default 0. */
  syncWave: 'driftless.dev/sync-wave',
  /**
   * Annotation (input): per-object sync options, comma-separated `Name=value`
   * (see `plan/sync-options.ts`): `Replace=true`, `Prune=false`, `CreateOnly=true`.
   */
  syncOptions: 'driftless.dev/sync-options',
  /** Annotation (input, Helm's): `keep` protects the object from prune and deletion. */
  helmResourcePolicy: 'helm.sh/resource-policy',
  /** Annotation (input, Helm's): marks a hook object and its events (`pre-install,pre-upgrade`). */
  helmHook: 'helm.sh/hook',
  /** Annotation (input, Helm's): hook order within its phase; lower first, default 0. */
  helmHookWeight: 'helm.sh/hook-weight',
  /** Annotation (input, Helm's): when a hook object is deleted. */
  helmHookDeletePolicy: 'helm.sh/hook-delete-policy',
  /** Field manager of every apply. */
  fieldManager: 'driftless',
} as const;

/** A health rule for a kind, in CEL, as declared by an app (see `health/expressions.ts`). */
export interface HealthRule {
  /** API group of the kind ('' for the core group). */
  group: string;
  kind: string;
  /** CEL over `object` (the live object): true means Healthy. */
  healthy: string;
  /** CEL over `object`: true means Degraded (checked before `healthy`). Optional. */
  degraded?: string;
}

/** How an app's changes reach the cluster. */
export type SyncMode = 'auto' | 'manual' | 'dry-run';

/** How an app's path is rendered; `auto` decides by what the path holds. */
export type RenderKind = 'auto' | 'directory' | 'kustomize' | 'helm';

/**
 * Fields of some objects that drift and the plan ignore, and that are left
 * out of what is applied to existing objects (`ignoreDifferences` of an app in
 * `driftless.yaml`, like Argo CD's with `RespectIgnoreDifferences`).
 */
export interface IgnoreRule {
  /** API group ('' is the core group); absent: any group. */
  group?: string;
  /** Kind, or `*` for any kind. */
  kind: string;
  /** Object name; absent: any name. */
  name?: string;
  /** Namespace; absent: any namespace. */
  namespace?: string;
  /** RFC 6901 JSON pointers such as `/spec/replicas`; a segment `*` matches any list item or key. */
  jsonPointers?: string[];
  /** Field managers (`metadata.managedFields`) whose fields are ignored, e.g. `kube-controller-manager`. */
  managedFieldsManagers?: string[];
}

/** One app of a cluster, as listed in `driftless.yaml`, with defaults applied. */
export interface AppSpec {
  /** Unique in the cluster; DNS label. */
  name: string;
  /** Folder in the repository, relative to its root. */
  path: string;
  /** Namespace given to namespaced objects that set none. Default '' (must then be set per object). */
  namespace: string;
  /** Namespaces objects may be in; default: just `namespace` (any when `namespace` is '' and this is empty). */
  allowedNamespaces: string[];
  /**
   * Cluster-scoped kinds the app may create, as `Kind` (core group),
   * `group/Kind` or `group/*`, or `*` for any. Default: `*` for an app with no
   * namespace limits; for an app limited to namespaces (which may always
   * create the Namespace objects of its allowed namespaces) just
   * {@link NEW_OR_OWN_CRDS}: CustomResourceDefinitions that do not exist yet
   * or that the app already owns, so a chart's CRDs sync with their
   * resources. A list set in `driftless.yaml` replaces the default entirely
   * (`[]`: no CRDs either; listing `apiextensions.k8s.io/CustomResourceDefinition`
   * lets the app adopt existing CRDs too).
   */
  allowedClusterKinds: string[];
  /**
   * ServiceAccount that the agent impersonates for every request it makes for
   * this app, so the API server's RBAC bounds the app; it lives in
   * `namespace`, or in the agent's state namespace when the app has none.
   * Default '' (the agent's own identity).
   */
  serviceAccountName: string;
  /** Default `auto`. */
  sync: SyncMode;
  /** Heal drift (true) or only report it. Default false. */
  selfHeal: boolean;
  /**
   * Paused from Git: plan and report (drift too) but apply and heal nothing, until a commit
   * sets it back. Default false. (A time-limited pause comes from the hub; see agent/src/suspend.)
   */
  suspend: boolean;
  /** Delete objects removed from Git. Default false. */
  prune: boolean;
  /** Allow a render with no objects to prune everything. Default false. */
  allowEmpty: boolean;
  /** Allow plaintext `Secret` objects in Git. Default false. */
  allowPlaintextSecrets: boolean;
  /** Apps that must be Healthy before this one syncs. Default []. */
  dependsOn: string[];
  /** How to render. Default `auto`. */
  render: RenderKind;
  /** Helm settings, used when rendering a chart. */
  helm: {
    releaseName: string;
    valuesFiles: string[];
    values: Record<string, unknown>;
    /** A chart from a Helm repository or OCI registry instead of the one at `path`. Default none. */
    chart?: HelmChartSource;
    /**
     * Fetch `Chart.yaml` dependencies that are not vendored (in `charts/` or a
     * `file://` folder of the checkout) from the repository each one names. Default false.
     */
    allowRemoteDependencies?: boolean;
  };
  /**
   * Kustomize settings: remote bases and resources, and `helmCharts` pulled
   * from a chart repository, each off by default.
   */
  kustomize: { allowRemoteResources: boolean; allowRemoteCharts: boolean };
  /** How long a sync waits for the app to become Healthy. Default 5 minutes. */
  healthTimeoutMs: number;
  /** Create the app's `namespace` when the render has no Namespace object for it. Default false. */
  createNamespace: boolean;
  /**
   * Delete and re-create objects whose change touches an immutable field
   * (never CRDs, Namespaces or PersistentVolumeClaims). Default false; per
   * object with the sync option `Replace=true`.
   */
  replace: boolean;
  /** Health rules for the app's own kinds, in CEL. Default []. */
  health: HealthRule[];
  /** Fields drift and the plan ignore (see {@link IgnoreRule}). Default []. */
  ignoreDifferences: IgnoreRule[];
}

/** A chart pinned in a Helm HTTP repository (`index.yaml`) or an OCI registry. */
export interface HelmChartSource {
  /** `https://…` (a Helm repository) or `oci://host/path` (the registry path holding the chart). */
  repository: string;
  /** The chart's name in the repository. */
  name: string;
  /** The exact version: charts are pinned, never ranges. */
  version: string;
  /**
   * Where the repository's user name and password come from: a Secret in the
   * agent's namespace labelled `driftless.dev/chart-credentials: "true"` (keys
   * `username`, `password`), or a file in the agent's `--chart-credentials-dir`.
   * Default none.
   */
  credentials?: { secret?: string; file?: string };
  /** Talk to an OCI registry over plain HTTP (a registry inside the cluster network). Default false. */
  plainHttp?: boolean;
}

/** The parsed `driftless.yaml` of a cluster. */
export interface ClusterConfig {
  apps: AppSpec[];
  /**
   * `spec.allowEmpty`: accept a config that lists no apps (and so removes every
   * app, pruning those with `prune: true`). Default false: such a config is refused.
   */
  allowEmpty: boolean;
}

/** The API groups Kubernetes itself serves; a kind of another group comes from a CRD. */
export const BUILT_IN_GROUPS: ReadonlySet<string> = new Set([
  '',
  'apps',
  'batch',
  'autoscaling',
  'policy',
  'networking.k8s.io',
  'rbac.authorization.k8s.io',
  'storage.k8s.io',
  'apiextensions.k8s.io',
  'apiregistration.k8s.io',
  'admissionregistration.k8s.io',
  'scheduling.k8s.io',
  'coordination.k8s.io',
  'discovery.k8s.io',
  'events.k8s.io',
  'node.k8s.io',
  'certificates.k8s.io',
  'flowcontrol.apiserver.k8s.io',
  'resource.k8s.io',
]);
