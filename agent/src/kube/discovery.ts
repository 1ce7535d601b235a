import type { KubeClient } from './client.ts';

/** What a cluster is, as Helm's `.Capabilities` sees it. */
export interface ClusterCapabilities {
  /** The API server's version, e.g. `v1.34.4` (`.Capabilities.KubeVersion`). */
  kubeVersion: string;
  /**
   * Every group/version the server serves and every group/version/Kind in it,
   * custom resources included (`.Capabilities.APIVersions`), sorted; the core
   * group is written without a group (`v1`, `v1/Pod`), as Helm writes it.
   */
  apiVersions: string[];
}

/** Options of {@link clusterCapabilities}. */
export interface CapabilitiesOptions {
  /**
   * A finished discovery younger than this is reused. Default 0: only a
   * discovery still running is shared (the renders of one pass that start
   * together make one), so a render that starts after an app applied a CRD
   * always sees it.
   */
  maxAgeMs?: number;
  /** Time source for the age. Default `Date.now`. */
  now?: () => number;
  /**
   * The served-API generation of the cluster (see reconcile/served-apis.ts).
   * When given, a finished discovery is reused for up to `generationMaxAgeMs`
   * while the generation is the same and no CRD or APIService was written
   * through the client's connections since (that write may be served before
   * the watch tells). Default: not given, `maxAgeMs` alone decides.
   */
  generation?: number;
  /**
   * How long a discovery is reused while `generation` holds, ms. Bounded:
   * discovery may start serving a new CRD only after its watch event moved
   * the generation, and a watch the agent may not run never moves it.
   * Default one minute.
   */
  generationMaxAgeMs?: number;
  signal?: AbortSignal;
}

/** The defaults of {@link CapabilitiesOptions}. */
export const CAPABILITIES_DEFAULTS = { maxAgeMs: 0, generationMaxAgeMs: 60_000 } as const;

interface CacheEntry {
  /** When the discovery finished; undefined while it runs. */
  at: number | undefined;
  /** The served-API generation and CRD writes it was asked at. */
  version: string;
  value: Promise<ClusterCapabilities>;
}

/** Per cluster connection: a client and its impersonating copies share one discovery. */
const cache = new WeakMap<object, CacheEntry>();

/**
 * The cluster's version and served APIs, from `/version` and aggregated
 * discovery of `/api` and `/apis` (three requests; servers without
 * aggregated discovery are asked per group version). Cached per cluster
 * connection (a client and its impersonating copies) for `maxAgeMs` after it
 * finished, or while `generation` holds (up to `generationMaxAgeMs`); a running one is always shared, a
 * failed one dropped. Errors are the client's (transient when the server
 * cannot be reached).
 */
export async function clusterCapabilities(
  client: KubeClient,
  options: CapabilitiesOptions = {},
): Promise<ClusterCapabilities> {
  const now = options.now ?? Date.now;
  const maxAgeMs = options.maxAgeMs ?? CAPABILITIES_DEFAULTS.maxAgeMs;
  const generationMaxAgeMs = options.generationMaxAgeMs ?? CAPABILITIES_DEFAULTS.generationMaxAgeMs;
  const key = client.scope;
  const version = `${options.generation ?? ''}/${client.apiWrites}`;
  const cached = cache.get(key);
  if (
    cached &&
    (cached.at === undefined ||
      now() - cached.at < maxAgeMs ||
      (options.generation !== undefined &&
        cached.version === version &&
        now() - cached.at < generationMaxAgeMs))
  )
    return cached.value;
  const value = discover(client, options.signal);
  const entry: CacheEntry = { at: undefined, version, value };
  cache.set(key, entry);
  value.then(
    () => {
      entry.at = now();
    },
    () => {
      if (cache.get(key) === entry) cache.delete(key);
    },
  );
  return value;
}

/**
 * Every group/version and group/version/Kind the cluster's discovery serves now, as
 * {@link ClusterCapabilities.apiVersions} lists them; never cached. Errors are the client's.
 */
export async function servedApiVersions(
  client: KubeClient,
  signal?: AbortSignal,
): Promise<Set<string>> {
  return new Set((await discover(client, signal)).apiVersions);
}

/** Aggregated discovery (`apidiscovery.k8s.io/v2`), with the plain list as a fallback. */
const AGGREGATED =
  'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json';

interface AggregatedList {
  kind?: string;
  items?: Array<{
    metadata?: { name?: string };
    versions?: Array<{
      version: string;
      resources?: Array<{ responseKind?: { kind?: string } }>;
    }>;
  }>;
}

async function discover(client: KubeClient, signal?: AbortSignal): Promise<ClusterCapabilities> {
  const req = <T>(path: string, accept?: string) =>
    client.request<T>('GET', path, {
      ...(accept ? { accept } : {}),
      ...(signal ? { signal } : {}),
    });
  const [version, core, groups] = await Promise.all([
    req<{ gitVersion?: string }>('/version'),
    req<AggregatedList>('/api', AGGREGATED),
    req<AggregatedList>('/apis', AGGREGATED),
  ]);
  const set = new Set<string>();
  for (const list of [core, groups]) {
    if (list.kind === 'APIGroupDiscoveryList') {
      for (const group of list.items ?? []) {
        const name = group.metadata?.name ?? '';
        for (const v of group.versions ?? []) {
          const gv = name ? `${name}/${v.version}` : v.version;
          set.add(gv);
          for (const r of v.resources ?? []) {
            if (r.responseKind?.kind) set.add(`${gv}/${r.responseKind.kind}`);
          }
        }
      }
    } else {
      for (const gv of legacyGroupVersions(list)) {
        set.add(gv);
        const path = gv.includes('/') ? `/apis/${gv}` : `/api/${gv}`;
        const resources = await req<{ resources?: Array<{ name: string; kind: string }> }>(path);
        for (const r of resources.resources ?? []) {
          if (!r.name.includes('/')) set.add(`${gv}/${r.kind}`);
        }
      }
    }
  }
  return { kubeVersion: version.gitVersion ?? '', apiVersions: [...set].sort() };
}

/** Group versions of an `APIVersions` (`/api`) or `APIGroupList` (`/apis`) answer. */
function legacyGroupVersions(list: unknown): string[] {
  const l = list as {
    versions?: string[];
    groups?: Array<{ versions?: Array<{ groupVersion: string }> }>;
  };
  if (l.versions) return l.versions;
  return (l.groups ?? []).flatMap((g) => (g.versions ?? []).map((v) => v.groupVersion));
}
