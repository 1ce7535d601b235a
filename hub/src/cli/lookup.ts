/** Reading one cluster or app from the hub, with one clear error when it is not there. */
import type { HubClient } from './client.ts';
import { CliError, isNotFound } from './command.ts';
import { query } from './flags.ts';
import type { Row } from './table.ts';

/** The cluster `name` with its apps (`GET /api/v1/clusters/NAME`); CliError when unknown. */
export async function getCluster(client: HubClient, name: string): Promise<Row> {
  try {
    return await client.call<Row>('GET', `/api/v1/clusters/${encodeURIComponent(name)}`);
  } catch (err) {
    if (isNotFound(err))
      throw new CliError(`cluster ${name}: not found (driftless cluster list shows the clusters)`, {
        cause: err,
      });
    throw err;
  }
}

/**
 * The app `app` of cluster `cluster` as `GET /api/v1/apps` shows it; CliError naming the
 * cluster or app when either is unknown (listing the cluster's apps).
 */
export async function getApp(client: HubClient, cluster: string, app: string): Promise<Row> {
  return appOf(await getCluster(client, cluster), app);
}

/**
 * The app `app` of the cluster `c` as `GET /api/v1/clusters/NAME` shows it; CliError naming
 * it (and listing the cluster's apps) when the cluster has none of that name.
 */
export function appOf(c: Row, app: string): Row {
  const cluster = c['name'] as string;
  const apps = (c['apps'] ?? []) as Row[];
  const found = apps.find((a) => a['app'] === app);
  if (!found) {
    const names = apps.map((a) => a['app'] as string);
    throw new CliError(
      `app ${cluster}/${app}: not found (cluster ${cluster} has ${names.length ? names.join(', ') : 'no apps'})`,
    );
  }
  return found;
}

/** Clusters matching `selector` (every cluster for ''). */
export async function listClusters(client: HubClient, selector: string): Promise<Row[]> {
  return (await client.call<{ items: Row[] }>('GET', `/api/v1/clusters${query({ selector })}`))
    .items;
}

/** Apps of the fleet, of one cluster or of the clusters matching `selector`. */
/**
 * Refuses a `--cluster` filter naming a cluster the hub does not know (NotFound, exit 1), so a
 * misspelt name is not answered with an empty list. Nothing to check when `name` is unset.
 */
export async function requireCluster(client: HubClient, name: string | undefined): Promise<void> {
  if (name) await getCluster(client, name);
}

export async function listApps(
  client: HubClient,
  filter: { cluster?: string; selector?: string },
): Promise<Row[]> {
  await requireCluster(client, filter.cluster);
  return (await client.call<{ items: Row[] }>('GET', `/api/v1/apps${query(filter)}`)).items;
}

/**
 * The plan `app` waits on for an approval, or undefined: the same rule as the hub's
 * `pendingPlanOf` (a manual app, out of sync, with a plan digest).
 */
export function pendingPlanOf(app: Row): { revision: string; planDigest: string } | undefined {
  if (app['gone'] || app['syncMode'] !== 'manual') return undefined;
  if (app['syncStatus'] !== 'out-of-sync' || !app['planDigest'] || !app['revision'])
    return undefined;
  return { revision: app['revision'] as string, planDigest: app['planDigest'] as string };
}
