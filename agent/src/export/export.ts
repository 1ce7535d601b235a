import { DriftlessError, errorMessage, TerminalError } from '@driftless/common';
import { KubeApiError, type ApiResource, type KubeClient } from '../kube/index.ts';
import { Marks, type KubeObject } from '../model.ts';
import { DEFAULT_CONCURRENCY, mapLimit } from '../plan/index.ts';
import { cleanObject, CONTROL_PLANE_MANAGERS } from './clean.ts';
import { discoverNamespacedKinds } from './discover.ts';

/** Options of {@link exportNamespace}. */
export interface ExportOptions {
  client: KubeClient;
  /** The namespace whose objects are exported. */
  namespace: string;
  /**
   * Export Secrets too. Default false: a Secret's data is plaintext (base64),
   * and Git is the wrong place for it; Secrets are not even read.
   */
  includeSecrets?: boolean;
  /** Told about what was left out and why (Secrets, kinds we may not list). */
  onWarning?: (message: string) => void;
  /** Parallel list requests. Default 8. */
  concurrency?: number;
  signal?: AbortSignal;
}

/**
 * Kinds that are records of what happened or derived state, keyed by
 * `group/kind`; no one writes them into Git.
 */
const SKIPPED_KINDS = new Set([
  '/Event', // a record, not state
  'events.k8s.io/Event',
  '/Endpoints', // derived from Services
  'discovery.k8s.io/EndpointSlice',
  'coordination.k8s.io/Lease', // leader election and heartbeats
  'apps/ControllerRevision', // history kept by StatefulSet and DaemonSet controllers
  'metrics.k8s.io/PodMetrics', // measurements served by metrics-server
]);

const INVENTORY_LABEL = 'driftless.dev/inventory';

/** Why an object is not user state, or undefined when it is exported. */
export function skipReason(obj: KubeObject): string | undefined {
  const owners = obj.metadata['ownerReferences'];
  if (
    Array.isArray(owners) &&
    owners.some((o) => (o as { controller?: unknown }).controller === true)
  ) {
    return 'managed by a controller';
  }
  // Written only by the control plane, e.g. the PVCs of a StatefulSet's
  // volumeClaimTemplates, which carry no owner: applying their source makes them again.
  const managers = Array.isArray(obj.metadata['managedFields'])
    ? (obj.metadata['managedFields'] as { manager?: unknown }[]).map((e) =>
        typeof e.manager === 'string' ? e.manager : '',
      )
    : [];
  if (managers.length > 0 && managers.every((m) => CONTROL_PLANE_MANAGERS.has(m))) {
    return 'created by the control plane';
  }
  // The agent's own records (its identity Secret, its pauses ConfigMap) carry our managed-by
  // mark but no app: no app declared them, and in Git they would fight the agent.
  const labels = obj.metadata.labels ?? {};
  if (labels[Marks.managedBy] === Marks.managedByValue && labels[Marks.app] === undefined)
    return "the Driftless agent's own state";
  if (obj.apiVersion === 'v1') {
    if (obj.kind === 'ServiceAccount' && obj.metadata.name === 'default')
      return 'created by the cluster';
    if (obj.kind === 'ConfigMap' && obj.metadata.name === 'kube-root-ca.crt')
      return 'created by the cluster';
    if (obj.kind === 'ConfigMap' && obj.metadata.labels?.[INVENTORY_LABEL] === 'true') {
      return 'a Driftless inventory';
    }
    if (obj.kind === 'Secret' && obj['type'] === 'kubernetes.io/service-account-token') {
      return 'a service account token';
    }
  }
  return undefined;
}

/**
 * Reads what runs in `namespace` as clean manifests, to bring existing state
 * into Git: every namespaced kind the server lets us list, without generated
 * objects (controller-owned, Events, Endpoints, Leases and the like), without
 * Secrets unless asked, and each object reduced by {@link cleanObject} to
 * what people declared. Sorted by kind, then name.
 */
export async function exportNamespace(options: ExportOptions): Promise<KubeObject[]> {
  const { client, namespace, signal } = options;
  const warn = options.onWarning ?? (() => {});
  const exists = await client.get(
    { apiVersion: 'v1', kind: 'Namespace', namespace: '', name: namespace },
    signal,
  );
  if (!exists) throw new TerminalError(`export namespace ${namespace}: no such namespace`);

  const kinds = (
    await discoverNamespacedKinds({ client, onWarning: warn, ...(signal ? { signal } : {}) })
  ).filter((r) => !SKIPPED_KINDS.has(`${r.group}/${r.kind}`));
  const wanted = kinds.filter(
    (r) => options.includeSecrets || !(r.group === '' && r.kind === 'Secret'),
  );
  if (wanted.length < kinds.length) {
    warn(
      `Secrets in ${namespace} are not exported: pass --include-secrets to export them (their values are plaintext)`,
    );
  }

  const lists = await mapLimit(wanted, options.concurrency ?? DEFAULT_CONCURRENCY, (r) =>
    listKind(client, r, namespace, warn, signal),
  );
  return lists
    .flat()
    .filter((obj) => skipReason(obj) === undefined)
    .map(cleanObject)
    .sort(
      (a, b) =>
        a.kind.localeCompare(b.kind) ||
        a.metadata.name.localeCompare(b.metadata.name) ||
        a.apiVersion.localeCompare(b.apiVersion),
    );
}

/** Every object of one kind in the namespace; a kind we may not list is skipped with a warning. */
async function listKind(
  client: KubeClient,
  r: ApiResource,
  namespace: string,
  warn: (message: string) => void,
  signal: AbortSignal | undefined,
): Promise<KubeObject[]> {
  const apiVersion = r.group ? `${r.group}/${r.version}` : r.version;
  try {
    const { items } = await client.list(apiVersion, r.kind, {
      namespace,
      ...(signal ? { signal } : {}),
    });
    return items;
  } catch (err) {
    // Forbidden: RBAC gives us less than the server serves; the rest still exports.
    // NotFound/MethodNotAllowed: the kind went away between discovery and list.
    if (err instanceof KubeApiError && [403, 404, 405].includes(err.statusCode)) {
      warn(`skipping ${r.kind} (${apiVersion}): ${errorMessage(err)}`);
      return [];
    }
    const message = `export ${r.kind} in ${namespace}: ${errorMessage(err)}`;
    throw new DriftlessError(message, { cause: err });
  }
}
