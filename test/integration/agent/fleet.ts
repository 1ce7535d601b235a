/**
 * Shared pieces of the agent integration tests: an example fleet repository
 * (plain YAML, Kustomize and Helm apps), a reporter that records what the
 * agent says, and snapshots of live objects.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { trace } from '@opentelemetry/api';
import type { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '@driftless/common';
import {
  Agent,
  ApprovalBook,
  DriftWatcher,
  type DriftWatcherOptions,
  EventReporter,
  FanoutReporter,
  GitSource,
  InventoryStore,
  KubeClient,
  type AppStatusReport,
  type DriftReport,
  type Reporter,
  type SyncReport,
} from '@driftless/agent';
import type { GitRepo, GitServer } from '@driftless/test';

/** Records every report, in order. */
export class Recorder implements Reporter {
  statuses: AppStatusReport[] = [];
  syncs: SyncReport[] = [];
  drifts: DriftReport[] = [];
  appStatus(r: AppStatusReport): void {
    this.statuses.push(r);
  }
  syncResult(r: SyncReport): void {
    this.syncs.push(r);
  }
  drift(r: DriftReport): void {
    this.drifts.push(r);
  }
  /** The last sync report of `app`. */
  lastSync(app: string): SyncReport | undefined {
    return this.syncs.filter((s) => s.app === app).at(-1);
  }
}

/** driftless.yaml of the test cluster with the given apps (YAML list items). */
export function clusterYaml(apps: string): string {
  return `apiVersion: driftless.dev/v1alpha1\nkind: Cluster\nspec:\n  apps:\n${apps}`;
}

/** The apps of the base fleet. */
export const BASE_APPS = `
    - name: infra
      path: infrastructure
      allowedNamespaces: [kust, chart]
    - name: web
      path: apps/web
      namespace: web
      prune: true
      selfHeal: true
      healthTimeout: 2m
    - name: kust
      path: apps/kust/overlays/prod
      namespace: kust
      prune: true
      dependsOn: [infra]
    - name: chart
      path: apps/chart
      namespace: chart
      dependsOn: [infra]
      helm:
        releaseName: demo
        valuesFiles: [values-prod.yaml]
`;

/** A Deployment of `replicas` pods of a small image (kwok runs no containers). */
export function deployment(
  name: string,
  replicas: number,
  image = 'registry.local/web:1.0',
): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  labels: { app: ${name} }
spec:
  replicas: ${replicas}
  selector:
    matchLabels: { app: ${name} }
  template:
    metadata:
      labels: { app: ${name} }
    spec:
      containers:
        - name: main
          image: ${image}
`;
}

/** The files of the base fleet. */
export function baseFleet(): Record<string, string> {
  return {
    'clusters/test/driftless.yaml': clusterYaml(BASE_APPS),
    'infrastructure/namespaces.yaml':
      'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kust\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: chart\n',
    'apps/web/namespace.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n',
    'apps/web/workload/deployment.yaml': deployment('web', 2),
    'apps/web/config.yaml':
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: blue\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-extra\ndata:\n  note: remove me later\n',
    'apps/web/service.json': JSON.stringify({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web' },
      spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
    }),
    'apps/kust/base/kustomization.yaml': 'resources:\n  - configmap.yaml\n',
    'apps/kust/base/configmap.yaml':
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  level: base\n',
    'apps/kust/overlays/prod/kustomization.yaml':
      'resources:\n  - ../../base\nnamePrefix: prod-\nnamespace: kust\npatches:\n  - target: { kind: ConfigMap, name: settings }\n    patch: |\n      - op: replace\n        path: /data/level\n        value: prod\n',
    'apps/chart/Chart.yaml': 'apiVersion: v2\nname: greeter\nversion: 0.1.0\n',
    'apps/chart/values.yaml': 'greeting: hello\n',
    'apps/chart/values-prod.yaml': 'greeting: hello from prod\n',
    'apps/chart/templates/configmap.yaml':
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-greeter\ndata:\n  greeting: {{ .Values.greeting | quote }}\n',
  };
}

/** An in-process agent wired to a real cluster and git server. */
export interface TestAgent {
  agent: Agent;
  /** The agent's drift watcher. */
  drift: DriftWatcher;
  client: KubeClient;
  recorder: Recorder;
  approvals: ApprovalBook;
  source: GitSource;
  workDir: string;
  close(): Promise<void>;
}

const agentsPerCluster = new Map<string, number>();

/** `driftless-system` for a cluster's first test agent, `driftless-system-N` after. */
function defaultStateNamespace(kubeConfig: KubeConfig): string {
  const server = kubeConfig.getCurrentCluster()?.server ?? '';
  const n = (agentsPerCluster.get(server) ?? 0) + 1;
  agentsPerCluster.set(server, n);
  return n === 1 ? 'driftless-system' : `driftless-system-${n}`;
}

/** Builds an agent for `repo` on the cluster of `kubeConfig`; the loop is not started. */
export async function makeAgent(options: {
  kubeConfig: KubeConfig;
  git: GitServer;
  repo: GitRepo;
  pollIntervalMs?: number;
  /** Drift watcher options beyond the defaults (a clock, fight settings). */
  drift?: Partial<DriftWatcherOptions>;
  /**
   * Namespace of the agent's inventories and Events. Default: `driftless-system` for the first
   * agent made on a cluster, `driftless-system-N` for later ones, since agents that share a
   * cluster in one test file must not share state (a fresh agent refuses a config that drops
   * every app the cluster holds), just as two real clusters would not.
   */
  stateNamespace?: string;
}): Promise<TestAgent> {
  const stateNamespace = options.stateNamespace ?? defaultStateNamespace(options.kubeConfig);
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'driftless-agent-test-'));
  const client = await KubeClient.fromKubeConfig(options.kubeConfig);
  const logger = createLogger({ name: 'agent-test', level: process.env['LOG_LEVEL'] ?? 'silent' });
  const source = new GitSource({
    url: options.repo.url,
    branch: 'main',
    dir: workDir,
    auth: options.git.credentials,
    logger,
  });
  const inventory = new InventoryStore(client, stateNamespace);
  await inventory.ensureNamespace();
  const recorder = new Recorder();
  const reporter = new FanoutReporter(
    recorder,
    new EventReporter({ client, cluster: 'test', namespace: stateNamespace, logger }),
  );
  const approvals = new ApprovalBook();
  // Drift goes through the agent, as in production (see agent/src/run.ts).
  const drift = new DriftWatcher({
    client,
    logger,
    reporter: {
      appStatus: (r) => recorder.appStatus(r),
      syncResult: (r) => recorder.syncResult(r),
      drift: (r) => agent.noteDrift(r),
    },
    ...options.drift,
  });
  const agent: Agent = new Agent({
    cluster: 'test',
    client,
    source,
    clusterPath: 'clusters/test',
    inventory,
    reporter,
    approvals,
    drift,
    tracer: trace.getTracer('agent-test'),
    logger,
    pollIntervalMs: options.pollIntervalMs ?? 3_600_000,
    healthPollMs: 250,
  });
  return {
    agent,
    drift,
    client,
    recorder,
    approvals,
    source,
    workDir,
    close: async () => {
      await agent.stop();
      await drift.stop();
      client.close();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}

/** name → resourceVersion of every object of the kinds in `namespace`, to prove nothing was written. */
export async function snapshot(
  client: KubeClient,
  namespace: string,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [apiVersion, kind] of [
    ['v1', 'ConfigMap'],
    ['v1', 'Service'],
    ['v1', 'Secret'],
    ['apps/v1', 'Deployment'],
  ] as const) {
    const { items } = await client.list(apiVersion, kind, { namespace });
    for (const o of items) {
      if (o.metadata.name === 'kube-root-ca.crt') continue;
      out[`${kind}/${o.metadata.name}`] = String(o.metadata['resourceVersion']);
    }
  }
  return out;
}
