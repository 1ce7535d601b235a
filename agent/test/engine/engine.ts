// A whole Agent on fakes at our own interfaces: a folder as the Git checkout, FakeKube as the
// cluster, a recording Reporter, and a ManualClock. For unit tests of reconcile and report.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { trace } from '@opentelemetry/api';
import { createLogger } from '@driftless/common';
import { Agent, type AgentOptions, type Checkout } from '../../src/reconcile/index.ts';
import { InventoryStore } from '../../src/inventory/index.ts';
import {
  ApprovalBook,
  type AppStatusReport,
  type ConfigStatusReport,
  type DriftReport,
  type Reporter,
  type SyncReport,
} from '../../src/report/index.ts';
import { ManualClock } from './clock.ts';
import { FakeKube } from './fake-kube.ts';

/** Keeps every report, in order. */
export class RecordingReporter implements Reporter {
  readonly statuses: AppStatusReport[] = [];
  readonly syncs: SyncReport[] = [];
  readonly drifts: DriftReport[] = [];
  readonly configs: ConfigStatusReport[] = [];
  appStatus(r: AppStatusReport): void {
    this.statuses.push(r);
  }
  syncResult(r: SyncReport): void {
    this.syncs.push(r);
  }
  drift(r: DriftReport): void {
    this.drifts.push(r);
  }
  configStatus(r: ConfigStatusReport): void {
    this.configs.push(r);
  }
  /** The newest status of `app`. */
  status(app: string): AppStatusReport | undefined {
    return this.statuses.filter((s) => s.app === app).at(-1);
  }
  /** Sync results of `app`. */
  syncsOf(app: string): SyncReport[] {
    return this.syncs.filter((s) => s.app === app);
  }
}

/** A ConfigMap manifest named `name`. */
export const configMap = (name: string, data: Record<string, string> = { k: 'v' }) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n${Object.entries(data)
    .map(([k, v]) => `  ${k}: "${v}"`)
    .join('\n')}\n`;

/** A driftless.yaml listing `apps` (already indented YAML list items, or `[]`). */
export const clusterYaml = (apps: string, extra = '') =>
  `apiVersion: driftless.dev/v1alpha1\nkind: Cluster\nspec:\n${extra}  apps:${apps === '[]' ? ' []' : `\n${apps}`}\n`;

/** An app entry of driftless.yaml. */
export const appEntry = (name: string, more = '') =>
  `    - name: ${name}\n      path: apps/${name}\n      namespace: ns-${name}\n${more}`;

/** The agent under test and everything around it. */
export interface TestEngine {
  agent: Agent;
  kube: FakeKube;
  reporter: RecordingReporter;
  clock: ManualClock;
  /** The checkout folder. */
  dir: string;
  /** Commits `files` (path → text, null deletes) as a new revision. */
  commit(files: Record<string, string | null>): string;
  /** A new Agent on the same checkout, cluster and reporter, as after a restart. */
  restart(): Agent;
  close(): void;
}

/** Starts nothing: returns an idle Agent on a fresh checkout holding `files`. */
export function testEngine(
  files: Record<string, string>,
  options: Partial<AgentOptions> = {},
): TestEngine {
  const dir = mkdtempSync(path.join(tmpdir(), 'driftless-engine-'));
  let revision = 0;
  const sha = () => revision.toString(16).padEnd(40, '0');
  const write = (changes: Record<string, string | null>) => {
    for (const [file, text] of Object.entries(changes)) {
      const full = path.join(dir, file);
      if (text === null) rmSync(full, { force: true });
      else {
        mkdirSync(path.dirname(full), { recursive: true });
        writeFileSync(full, text);
      }
    }
    revision++;
    return sha();
  };
  write(files);
  const kube = new FakeKube();
  // The namespaces appEntry() names exist, as a platform team would have made them.
  for (const name of ['ns-a', 'ns-b', 'ns-c'])
    kube.objects.set(`/Namespace//${name}`, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, resourceVersion: '1' },
    });
  const reporter = new RecordingReporter();
  const clock = new ManualClock();
  const make = () =>
    new Agent({
      cluster: 'test',
      client: kube.client,
      source: { sync: async (): Promise<Checkout> => ({ revision: sha(), dir, fromCache: false }) },
      clusterPath: 'clusters/test',
      inventory: new InventoryStore(kube.client, 'driftless-system'),
      reporter,
      approvals: new ApprovalBook(),
      tracer: trace.getTracer('engine-test'),
      logger: createLogger({ name: 'engine-test', level: 'silent' }),
      clock,
      random: () => 0.5,
      ...options,
    });
  const agent = make();
  return {
    agent,
    restart: make,
    kube,
    reporter,
    clock,
    dir,
    commit: write,
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}
