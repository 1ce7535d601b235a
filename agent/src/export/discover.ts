import { errorMessage } from '@driftless/common';
import type { ApiResource, KubeClient } from '../kube/index.ts';

/** One entry of an APIResourceList. */
interface ApiResourceEntry {
  name: string;
  kind: string;
  namespaced: boolean;
  verbs?: string[];
}

/** The answer of `GET /apis`. */
interface ApiGroupList {
  groups: Array<{ name: string; preferredVersion?: { groupVersion: string } }>;
}

/** Options of {@link discoverNamespacedKinds}. */
export interface DiscoverOptions {
  client: KubeClient;
  /** Told about group versions whose discovery failed; they are left out. */
  onWarning?: (message: string) => void;
  signal?: AbortSignal;
}

/**
 * Every namespaced kind the server lets us list, at the preferred version of
 * its group: the core group (`/api/v1`), then each group of `/apis`.
 * Subresources (`deployments/scale`) are left out. A group version whose
 * discovery fails (an aggregated API that is down answers 503) is skipped
 * with a warning rather than failing the export of everything else.
 */
export async function discoverNamespacedKinds(options: DiscoverOptions): Promise<ApiResource[]> {
  const { client, signal } = options;
  const groups = await client.request<ApiGroupList>('GET', '/apis', { signal });
  const groupVersions = [
    'v1',
    ...groups.groups.flatMap((g) => (g.preferredVersion ? [g.preferredVersion.groupVersion] : [])),
  ];
  const found: ApiResource[] = [];
  for (const gv of groupVersions) {
    const path = gv === 'v1' ? '/api/v1' : `/apis/${gv}`;
    let list: { resources?: ApiResourceEntry[] };
    try {
      list = await client.request('GET', path, { signal });
    } catch (err) {
      if (gv === 'v1') throw err; // without the core group there is nothing to export
      options.onWarning?.(`skipping ${gv}: discovery failed: ${errorMessage(err)}`);
      continue;
    }
    const [group, version] = gv.includes('/') ? (gv.split('/') as [string, string]) : ['', gv];
    for (const r of list.resources ?? []) {
      if (r.name.includes('/') || !r.namespaced || !(r.verbs ?? []).includes('list')) continue;
      found.push({
        group,
        version,
        kind: r.kind,
        plural: r.name,
        namespaced: true,
        verbs: r.verbs ?? [],
      });
    }
  }
  return found;
}
