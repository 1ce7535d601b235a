/** Objects, apps and a running watcher on a fake cluster, shared by the drift unit tests. */
import { appSpec } from '../../src/config/index.ts';
import { Marks, type AppSpec, type KubeObject } from '../../src/model.ts';
import { DriftWatcher, type DriftWatcherOptions } from '../../src/drift/index.ts';
import { FakeClock, FakeCluster, MemoryReporter, silentLogger } from './fakes.ts';

/** An app in namespace shop, with or without selfHeal. */
export function app(name: string, selfHeal: boolean): AppSpec {
  return appSpec({ name, path: `apps/${name}`, namespace: 'shop', selfHeal });
}

/** Our ownership labels for `appName`. */
export const labels = (appName: string) => ({
  [Marks.managedBy]: Marks.managedByValue,
  [Marks.app]: appName,
});

/** Deployment shop/web of `appName`, with `replicas` when given. */
export function deployment(appName: string, replicas?: number): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'shop', labels: labels(appName) },
    spec: {
      ...(replicas === undefined ? {} : { replicas }),
      template: { spec: { containers: [{ name: 'web', image: 'web:1' }] } },
    },
  };
}

/** ConfigMap shop/settings of `appName`. */
export function configMap(appName: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'settings', namespace: 'shop', labels: labels(appName) },
    data: { mode: 'fast' },
  };
}

/** The sync that applied the objects of {@link setup}. */
export const SYNC = { revision: 'abc123', traceId: 'trace-1' };

/** A cluster holding `objects` as a sync applied them, and a running watcher on it. */
export async function setup(
  objects: KubeObject[],
  options: Partial<DriftWatcherOptions> = {},
  spec: AppSpec = app('shop', true),
) {
  const clock = new FakeClock();
  const cluster = new FakeCluster();
  for (const o of objects) {
    await cluster.apply(
      { ...o, metadata: { ...o.metadata, annotations: { [Marks.traceId]: SYNC.traceId } } },
      { fieldManager: Marks.fieldManager, force: true },
    );
  }
  cluster.calls.apply = 0;
  const reporter = new MemoryReporter();
  let ids = 0;
  const watcher = new DriftWatcher({
    client: cluster,
    reporter,
    logger: silentLogger(),
    clock,
    newId: () => `drift-${++ids}`,
    ...options,
  });
  watcher.track(spec, objects, SYNC);
  await clock.advance(100); // lists, watches, and the first check of each object
  cluster.calls.dryRun = 0;
  return { clock, cluster, reporter, watcher, spec };
}

/** The live replicas of the Deployment. */
export const replicasOf = (cluster: FakeCluster) =>
  (cluster.objects.get('apps/Deployment/shop/web')?.['spec'] as { replicas?: number }).replicas;

/** Another manager sets replicas with server-side apply (force), as `kubectl scale` would. */
export async function scale(cluster: FakeCluster, replicas: number, manager = 'ops-team') {
  await cluster.apply(
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'shop' },
      spec: { replicas },
    },
    { fieldManager: manager, force: true },
  );
}
