// Drift → healed: an in-process agent (production wiring: drift reports go through the agent;
// debounce 50 ms, 8 checks at a time) manages a selfHeal app of a Namespace and 70 ConfigMaps on
// a plain cluster. An outside field manager `ops` changes `.data.value` of one ConfigMap with a
// forced server-side apply, and we time from that write's response to (a) the agent's drift
// report, (b) our own watch seeing the object back at its Git value, (c) the agent's healed
// report. Then the same for deletions (→ re-created). Edits rotate over 50 ConfigMaps, each
// edited at most twice a minute by a new manager each pass, so neither fight guard (more than
// 5 heals in 60 s, or one manager rewriting what was healed) trips;
// deletions use 20 others. Baseline, measured in the same loop: the round trip of the outside
// write itself, and how late our own watch sees that write (the floor of any watch-based heal).
// Results go to docs/benchmarks.md ("Agent").
//
//   node --expose-gc test/bench/agent-drift.bench.ts   (BENCH_EDITS=N, default 200; BENCH_DELETES=N, default 40)
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { trace } from '@opentelemetry/api';
import { createLogger } from '@driftless/common';
import {
  Agent,
  ApprovalBook,
  DriftWatcher,
  GitSource,
  InventoryStore,
  KubeClient,
  type AppStatusReport,
  type DriftReport,
  type Reporter,
  type SyncReport,
  type WatchEvent,
} from '@driftless/agent';
import { startCluster, startGitServer, waitFor } from '@driftless/test';

const EDITS = Number(process.env['BENCH_EDITS'] ?? 200);
const DELETES = Number(process.env['BENCH_DELETES'] ?? 40);
const EDITED = 50;
const DELETED = 20;
const NS = 'heal';
const TIMEOUT_MS = 15_000;

/** Drift reports with the time they reached the reporter. */
class Recorder implements Reporter {
  drifts: { at: number; report: DriftReport }[] = [];
  syncs: SyncReport[] = [];
  appStatus(r: AppStatusReport): void {
    void r;
  }
  syncResult(r: SyncReport): void {
    this.syncs.push(r);
  }
  drift(report: DriftReport): void {
    this.drifts.push({ at: performance.now(), report });
  }
}

const configMap = (name: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  value: git\n`;
const names = [
  ...Array.from({ length: EDITED }, (_, i) => `edit-${i}`),
  ...Array.from({ length: DELETED }, (_, i) => `delete-${i}`),
];

const load0 = loadavg()[0] ?? 0;
const [cluster, git] = await Promise.all([startCluster(), startGitServer()]);
const repo = await git.createRepo('fleet');
await repo.commit(
  {
    'clusters/bench/driftless.yaml': `apiVersion: driftless.dev/v1alpha1\nkind: Cluster\nspec:\n  apps:\n    - name: heal\n      path: apps/heal\n      namespace: ${NS}\n      selfHeal: true\n`,
    'apps/heal/namespace.yaml': `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${NS}\n`,
    'apps/heal/configmaps.yaml': names.map(configMap).join('---\n'),
  },
  'heal app',
);
const workDir = await mkdtemp(path.join(tmpdir(), 'driftless-bench-'));
const logger = createLogger({ name: 'bench', level: 'silent' });
const client = await KubeClient.fromKubeConfig(cluster.kubeConfig);
const inventory = new InventoryStore(client, 'driftless-system');
await inventory.ensureNamespace();
const recorder = new Recorder();
const drift = new DriftWatcher({
  client,
  logger,
  reporter: {
    appStatus: () => undefined,
    syncResult: () => undefined,
    drift: (r) => agent.noteDrift(r),
  },
});
const agent: Agent = new Agent({
  cluster: 'bench',
  client,
  source: new GitSource({
    url: repo.url,
    branch: 'main',
    dir: workDir,
    auth: git.credentials,
    logger,
  }),
  clusterPath: 'clusters/bench',
  inventory,
  reporter: recorder,
  approvals: new ApprovalBook(),
  drift,
  tracer: trace.getTracer('bench'),
  logger,
  pollIntervalMs: 3_600_000,
});

// Our own watch of the namespace, on its own client (own sockets), every event timestamped.
const watcher = await KubeClient.fromKubeConfig(cluster.kubeConfig);
const events: { at: number; event: WatchEvent }[] = [];
const stopWatch = new AbortController();
const { resourceVersion } = await watcher.list('v1', 'ConfigMap', { namespace: NS });
const watching = watcher
  .watch(
    'v1',
    'ConfigMap',
    { namespace: NS, resourceVersion, signal: stopWatch.signal, timeoutSeconds: 3600 },
    (event) => void events.push({ at: performance.now(), event }),
  )
  .catch((err: unknown) => {
    if (!stopWatch.signal.aborted) throw err;
  });

/** Polls every 2 ms, finely enough for the latencies measured here. */
const until = <T>(what: string, fn: () => T | undefined): Promise<T> =>
  waitFor(what, fn, { timeoutMs: TIMEOUT_MS, everyMs: 2 });

interface Sample {
  writeMs: number;
  /** From the write's response to our watch's event of the write (may be < 0). */
  seenMs: number;
  reportedMs: number;
  backMs: number;
  healedReportMs: number;
}

/** One drift of `name` made by `write`, timed until healed. */
async function episode(
  name: string,
  write: () => Promise<unknown>,
  isWrite: (e: WatchEvent) => boolean,
  isBack: (e: WatchEvent) => boolean,
): Promise<Sample> {
  const fromEvent = events.length;
  const fromDrift = recorder.drifts.length;
  const started = performance.now();
  await write();
  const written = performance.now();
  const seen = await until(`the watch event of the write to ${name}`, () => {
    for (let i = fromEvent; i < events.length; i++) {
      const e = events[i];
      if (e && e.event.object.metadata.name === name && isWrite(e.event)) return { i, at: e.at };
    }
    return undefined;
  });
  const back = await until(`${name} back in line`, () => {
    for (let i = seen.i + 1; i < events.length; i++) {
      const e = events[i];
      if (e && e.event.object.metadata.name === name && isBack(e.event)) return e;
    }
    return undefined;
  });
  const mine = () => recorder.drifts.slice(fromDrift).filter((d) => d.report.ref.name === name);
  const reported = await until(`the drift report of ${name}`, () =>
    mine().find((d) => !d.report.healed),
  );
  const healed = await until(`the healed report of ${name}`, () =>
    mine().find((d) => d.report.healed && d.report.driftId === reported.report.driftId),
  );
  return {
    writeMs: written - started,
    seenMs: seen.at - written,
    reportedMs: reported.at - written,
    backMs: back.at - written,
    healedReportMs: healed.at - written,
  };
}

const edits: Sample[] = [];
const deletes: Sample[] = [];
const dataValue = (e: WatchEvent) =>
  (e.object['data'] as Record<string, string> | undefined)?.['value'];
try {
  if (!(await agent.reconcileOnce()))
    throw new Error(`sync failed: ${recorder.syncs.at(-1)?.error}`);
  await sleep(3000); // the watcher's first check of every object
  for (let k = 0; k < EDITS; k++) {
    const name = `edit-${k % EDITED}`;
    const value = `outside-${k}`;
    edits.push(
      await episode(
        name,
        () =>
          client.apply(
            {
              apiVersion: 'v1',
              kind: 'ConfigMap',
              metadata: { name, namespace: NS },
              data: { value },
            },
            // Each pass over the objects is another manager: the same manager rewriting a
            // field the agent healed three times is a fight, which the agent stops healing.
            { fieldManager: `ops-${Math.floor(k / EDITED)}`, force: true },
          ),
        (e) => e.type === 'MODIFIED' && dataValue(e) === value,
        (e) => e.type === 'MODIFIED' && dataValue(e) === 'git',
      ),
    );
    await sleep(50);
  }
  for (let k = 0; k < DELETES; k++) {
    const name = `delete-${k % DELETED}`;
    deletes.push(
      await episode(
        name,
        () => client.delete({ apiVersion: 'v1', kind: 'ConfigMap', namespace: NS, name }),
        (e) => e.type === 'DELETED',
        (e) => e.type === 'ADDED' && dataValue(e) === 'git',
      ),
    );
    await sleep(50);
  }
} finally {
  stopWatch.abort();
  await watching;
  await agent.stop();
  await drift.stop();
  client.close();
  watcher.close();
  await rm(workDir, { recursive: true, force: true });
  await Promise.all([cluster.stop(), git.stop()]);
}

/** Nearest-rank percentile. */
const pct = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return (
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ??
    Number.NaN
  );
};
const ms = (v: number): string => v.toFixed(1);
const row = (what: string, values: number[]): string =>
  `| ${what} | ${ms(pct(values, 50))} | ${ms(pct(values, 90))} | ${ms(pct(values, 99))} | ${ms(Math.min(...values))}–${ms(Math.max(...values))} |`;
const block = (title: string, verb: string, back: string, samples: Sample[]): string[] => [
  `| ${title} (${samples.length}) | p50 | p90 | p99 | min–max |`,
  '| --- | --- | --- | --- | --- |',
  row(
    `${verb} round trip (baseline)`,
    samples.map((s) => s.writeMs),
  ),
  row(
    `${verb} response → our watch sees it (baseline)`,
    samples.map((s) => s.seenMs),
  ),
  row(
    `${verb} response → agent drift report`,
    samples.map((s) => s.reportedMs),
  ),
  row(
    `${verb} response → our watch sees it ${back}`,
    samples.map((s) => s.backMs),
  ),
  row(
    `${verb} response → agent healed report`,
    samples.map((s) => s.healedReportMs),
  ),
];
console.log(
  [
    `${availableParallelism()} CPUs, load average ${load0.toFixed(1)} before / ${(loadavg()[0] ?? 0).toFixed(1)} after, Node ${process.version}; plain cluster; times in ms.`,
    '',
    ...block(
      'edit of `.data.value` by manager `ops` (forced SSA)',
      'outside write',
      'back at the Git value',
      edits,
    ),
    '',
    ...block('deletion, re-created', 'delete', 're-created', deletes),
  ].join('\n'),
);
