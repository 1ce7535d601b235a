/* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-return --
   Hub API answers are JSON read field by field by the tests. */
// The fleet repository the link tests (gRPC and NATS) start from, and the reads they share.
import type { KubeClient } from '@driftless/agent';
import { api, type HubProcess } from './helpers.ts';

/** The cluster name the link tests enroll as. */
export const CLUSTER = 'edge';

const driftlessYaml = `apiVersion: driftless.dev/v1alpha1
kind: Cluster
spec:
  apps:
    - name: web
      path: apps/web
      namespace: web
      prune: true
      selfHeal: true
    - name: gated
      path: apps/gated
      namespace: gated
      sync: manual
`;
const ns = (name: string) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n`;

/** The `settings` ConfigMap of an app at revision `rev` (`data.rev`, and `data.mode: steady`). */
export const settings = (rev: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  rev: "${rev}"\n  mode: steady\n`;

/**
 * The first commit: cluster `edge` with app `web` (auto sync, prune, self-heal) and app `gated`
 * (manual sync), each a Namespace and its `settings` ConfigMap.
 */
export const FLEET_FILES: Record<string, string> = {
  [`clusters/${CLUSTER}/driftless.yaml`]: driftlessYaml,
  'apps/web/namespace.yaml': ns('web'),
  'apps/web/settings.yaml': settings('1'),
  'apps/gated/namespace.yaml': ns('gated'),
  'apps/gated/settings.yaml': settings('gated-1'),
};

/** `data.rev` of the live `settings` ConfigMap in `namespace`; undefined when there is none. */
export async function liveRev(client: KubeClient, namespace: string): Promise<string | undefined> {
  const live = await client.get({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    namespace,
    name: 'settings',
  });
  return (live?.['data'] as Record<string, string> | undefined)?.['rev'];
}

/** One sync of the hub's history (`GET /api/v1/history`), the fields the tests read. */
export interface HistoryItem {
  syncId: string;
  traceId: string;
  app: string;
  result: string;
  revision: string;
  approvalId: string;
  steps: { name: string; durationMs: number }[];
}

/** A history record of an app carried to a commit that left its sources alone (no sync ran). */
export const isCarry = (h: HistoryItem) => h.steps.length === 1 && h.steps[0]?.name === 'carry';

/** Reads of cluster {@link CLUSTER} through the hub's API; `as()` gives the hub and the token to read with once both exist. */
export function hubReads(as: () => { hub: HubProcess; token: string }) {
  const get = async (path: string) => {
    const { hub, token } = as();
    return (await api(hub, token, 'GET', path)).body;
  };
  return {
    /** The hub's view of one app of the cluster; undefined until reported. */
    app: async (app: string) =>
      (await get(`/api/v1/clusters/${CLUSTER}`)).apps?.find((a: { app: string }) => a.app === app),
    /** The cluster's sync history, newest first. */
    history: async () =>
      (await get(`/api/v1/history?cluster=${CLUSTER}&limit=1000`)).items as HistoryItem[],
  };
}
