/**
 * The defaults of an app entry in `driftless.yaml`, applied in one place
 * ({@link withDefaults}), and the shape of an entry as read before that.
 */
import type { AppSpec, HealthRule, HelmChartSource, RenderKind, SyncMode } from '../model.ts';
import { NEW_OR_OWN_CRDS } from '../model.ts';

/**
 * The defaults of every optional app field, in one place (they mirror the doc
 * comments of {@link AppSpec}). Fields that depend on other fields
 * (`allowedNamespaces`, `helm.releaseName`) are derived in {@link withDefaults}.
 */
export const APP_DEFAULTS = {
  namespace: '',
  sync: 'auto',
  selfHeal: false,
  suspend: false,
  prune: false,
  allowEmpty: false,
  allowPlaintextSecrets: false,
  serviceAccountName: '',
  dependsOn: [],
  render: 'auto',
  helmValuesFiles: [],
  kustomizeAllowRemoteResources: false,
  kustomizeAllowRemoteCharts: false,
  helmAllowRemoteDependencies: false,
  healthTimeoutMs: 5 * 60_000,
  createNamespace: false,
  replace: false,
  health: [],
} as const satisfies {
  namespace: string;
  sync: SyncMode;
  selfHeal: boolean;
  suspend: boolean;
  prune: boolean;
  allowEmpty: boolean;
  allowPlaintextSecrets: boolean;
  serviceAccountName: string;
  dependsOn: readonly string[];
  render: RenderKind;
  helmValuesFiles: readonly string[];
  kustomizeAllowRemoteResources: boolean;
  kustomizeAllowRemoteCharts: boolean;
  helmAllowRemoteDependencies: boolean;
  healthTimeoutMs: number;
  createNamespace: boolean;
  replace: boolean;
  health: readonly HealthRule[];
};

/** Options of {@link parseClusterConfig}. */
export interface ParseClusterConfigOptions {
  /**
   * `healthTimeoutMs` of apps that set no `healthTimeout`, e.g. from the
   * agent's `--health-timeout` flag. Default {@link APP_DEFAULTS}.healthTimeoutMs (5 minutes).
   */
  defaultHealthTimeoutMs?: number;
}

/** `helm` as read, each field possibly unset. */
export interface HelmInput {
  releaseName?: string | undefined;
  valuesFiles?: string[] | undefined;
  values?: Record<string, unknown> | undefined;
  chart?: HelmChartSource | undefined;
  allowRemoteDependencies?: boolean | undefined;
}

/** `kustomize` as read, each field possibly unset. */
export interface KustomizeInput {
  allowRemoteResources?: boolean | undefined;
  allowRemoteCharts?: boolean | undefined;
}

/** What the file said, each field possibly unset. */
export type AppInput = {
  [K in keyof Omit<AppSpec, 'helm' | 'kustomize'>]: K extends 'name' | 'path'
    ? AppSpec[K]
    : AppSpec[K] | undefined;
} & {
  helm: HelmInput | undefined;
  kustomize: KustomizeInput | undefined;
};

/**
 * An AppSpec with every default applied, as parsing `driftless.yaml` would
 * give for an entry with just these fields (for tests and tools).
 */
export function appSpec(fields: Pick<AppSpec, 'name' | 'path'> & Partial<AppSpec>): AppSpec {
  const unset = {
    namespace: undefined,
    allowedNamespaces: undefined,
    allowedClusterKinds: undefined,
    serviceAccountName: undefined,
    sync: undefined,
    selfHeal: undefined,
    suspend: undefined,
    prune: undefined,
    allowEmpty: undefined,
    allowPlaintextSecrets: undefined,
    dependsOn: undefined,
    render: undefined,
    healthTimeoutMs: undefined,
    createNamespace: undefined,
    replace: undefined,
    health: undefined,
    ignoreDifferences: undefined,
  };
  return {
    ...withDefaults({ ...unset, ...fields, helm: fields.helm, kustomize: fields.kustomize }, {}),
    ...fields,
  };
}

/** Applies the defaults of {@link APP_DEFAULTS}; the only place that does. */
export function withDefaults(a: AppInput, options: ParseClusterConfigOptions): AppSpec {
  const namespace = a.namespace ?? APP_DEFAULTS.namespace;
  // Unset means "just the app's namespace"; with no namespace either, the
  // empty list means any namespace (see AppSpec).
  const allowedNamespaces = a.allowedNamespaces ?? (namespace ? [namespace] : []);
  return {
    name: a.name,
    path: a.path,
    namespace,
    allowedNamespaces,
    // An app limited to namespaces stays in them unless it lists cluster
    // kinds; by default it may still bring its own new CRDs (a chart's crds/).
    allowedClusterKinds:
      a.allowedClusterKinds ?? (allowedNamespaces.length === 0 ? ['*'] : [NEW_OR_OWN_CRDS]),
    serviceAccountName: a.serviceAccountName ?? APP_DEFAULTS.serviceAccountName,
    sync: a.sync ?? APP_DEFAULTS.sync,
    selfHeal: a.selfHeal ?? APP_DEFAULTS.selfHeal,
    suspend: a.suspend ?? APP_DEFAULTS.suspend,
    prune: a.prune ?? APP_DEFAULTS.prune,
    allowEmpty: a.allowEmpty ?? APP_DEFAULTS.allowEmpty,
    allowPlaintextSecrets: a.allowPlaintextSecrets ?? APP_DEFAULTS.allowPlaintextSecrets,
    dependsOn: a.dependsOn ?? [...APP_DEFAULTS.dependsOn],
    render: a.render ?? APP_DEFAULTS.render,
    helm: {
      // A release named after the app keeps `helm list`-style names readable.
      releaseName: a.helm?.releaseName ?? a.name,
      valuesFiles: a.helm?.valuesFiles ?? [...APP_DEFAULTS.helmValuesFiles],
      values: a.helm?.values ?? {},
      ...(a.helm?.chart ? { chart: a.helm.chart } : {}),
      allowRemoteDependencies:
        a.helm?.allowRemoteDependencies ?? APP_DEFAULTS.helmAllowRemoteDependencies,
    },
    kustomize: {
      allowRemoteResources:
        a.kustomize?.allowRemoteResources ?? APP_DEFAULTS.kustomizeAllowRemoteResources,
      allowRemoteCharts: a.kustomize?.allowRemoteCharts ?? APP_DEFAULTS.kustomizeAllowRemoteCharts,
    },
    healthTimeoutMs:
      a.healthTimeoutMs ?? options.defaultHealthTimeoutMs ?? APP_DEFAULTS.healthTimeoutMs,
    createNamespace: a.createNamespace ?? APP_DEFAULTS.createNamespace,
    replace: a.replace ?? APP_DEFAULTS.replace,
    health: a.health ?? [...APP_DEFAULTS.health],
    ignoreDifferences: a.ignoreDifferences ?? [],
  };
}
