/**
 * One phase of the side-by-side benchmark: one tool on a fresh workloads cluster with `apps`
 * apps, measured from a cold start through idle and, optionally, the latency workloads. The
 * tool runs under its own audited identity (../lib/audit.ts), so its API requests are counted
 * from the API server's audit log and nothing else is.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { startCluster, waitFor, type GitServer, type Hub } from '@driftless/test';
import type { Audit, RequestCount } from '../lib/audit.ts';
import { benchKube, type BenchKube } from '../lib/kube.ts';
import { cpuSeconds, load1, median, procStatusMiB } from '../lib/measure.ts';
import { driftlessReadyApps, notifyDriftless, prepareAgent, startBenchHub } from './driftless.ts';
import {
  createFluxObjects,
  fluxReadyApps,
  installFluxCrds,
  requestFluxReconcile,
  startFluxControllers,
} from './flux.ts';
import { appFile, appName, appObjects, extraNodes, repoFiles } from './workload.ts';

/** The tools compared. */
export type Tool = 'flux' | 'driftless';

/** What a phase runs. */
export interface PhaseOptions {
  tool: Tool;
  apps: number;
  round: number;
  /** Poll interval of both tools (Flux: GitRepository and Kustomization `interval`), in s. */
  intervalS: number;
  /** Length of the idle window, in s. */
  idleS: number;
  /** Samples per latency workload; 0 skips them. */
  samples: number;
  /** Give up on cold convergence after this long, in s. */
  coldTimeoutS: number;
  git: GitServer;
  audit: Audit;
  log: (line: string) => void;
}

/** What a phase measured (times in ms, memory in MiB). */
export interface PhaseResult {
  tool: Tool;
  apps: number;
  round: number;
  load: number[];
  /** Tool start → every Deployment Available (as the cluster shows it). */
  availableMs?: number;
  /** Tool start → the tool reports every app applied at the head and healthy. */
  readyMs?: number;
  coldRequests?: RequestCount;
  idleRssMiB?: number;
  peakRssMiB?: number;
  idleRequestsPerMin?: number;
  /** Idle API requests per minute by verb. */
  idlePerMinByVerb?: Record<string, number>;
  idleCpuPerMin?: number;
  pollApplied: number[];
  hintApplied: number[];
  driftCorrected: number[];
  error?: string;
}

/** A running tool, whichever it is. */
interface Running {
  pids(): number[];
  /** The apps the tool reports applied at `revision` and healthy, as of now. */
  readyApps(revision: string): Promise<string[]>;
  trigger(sha: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A check that is true once every app has been seen ready at `revision`, each latched the first
 * time (from when the check is made): "the tool has reported every app ready".
 */
function everyAppSeenReady(tool: Running, apps: number, revision: string): () => Promise<boolean> {
  const names = new Set(Array.from({ length: apps }, (_, i) => appName(i)));
  const seen = new Set<string>();
  return async () => {
    for (const name of await tool.readyApps(revision)) if (names.has(name)) seen.add(name);
    return seen.size === apps;
  };
}

/** Fake nodes beyond the harness's one, shaped as it makes its own. */
async function addNodes(kube: BenchKube, count: number): Promise<void> {
  for (let n = 1; n <= count; n++) {
    const name = `kwok-node-${n}`;
    const resources = { cpu: '32', memory: '256Gi', pods: '110' };
    await kube.request('POST', '/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        labels: { type: 'kwok', 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux' },
      },
      status: { allocatable: resources, capacity: resources },
    });
  }
}

/** How many of the apps' Deployments are Available. */
async function availableCount(kube: BenchKube, apps: number): Promise<number> {
  const names = new Set(Array.from({ length: apps }, (_, i) => appName(i)));
  const items = await kube.list('/apis/apps/v1/deployments');
  return items.filter((d) => {
    const status = d['status'] as { conditions?: { type: string; status: string }[] } | undefined;
    return (
      names.has(d.metadata?.namespace ?? '') &&
      status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True')
    );
  }).length;
}

/** The data of ConfigMap `name` in app 0's namespace. */
async function configData(kube: BenchKube, name: string): Promise<Record<string, string>> {
  const cm = await kube.request('GET', `/api/v1/namespaces/${appName(0)}/configmaps/${name}`);
  return (cm?.['data'] as Record<string, string> | undefined) ?? {};
}

/** Runs one phase; a failure is recorded in `error` with whatever was measured before it. */
export async function runPhase(o: PhaseOptions): Promise<PhaseResult> {
  const result: PhaseResult = {
    tool: o.tool,
    apps: o.apps,
    round: o.round,
    load: [load1()],
    pollApplied: [],
    hintApplied: [],
    driftCorrected: [],
  };
  const stops: (() => Promise<void>)[] = [];
  let sampler: NodeJS.Timeout | undefined;
  try {
    // The harness's Service range, a /24, holds 254 cluster IPs; 200 apps have 400 Services.
    const cluster = await startCluster({
      workloads: true,
      apiServerArgs: [...o.audit.apiServerArgs, '--service-cluster-ip-range=10.0.0.0/16'],
    });
    stops.push(() => cluster.stop());
    const kube = benchKube(cluster.kubeconfigPath);
    stops.push(async () => kube.close());
    await addNodes(kube, extraNodes(o.apps));
    const repo = await o.git.createRepo(`fleet-${o.tool}-${o.apps}-${o.round}`);
    let head = await repo.commit(repoFiles(o.apps), `${o.apps} apps`);
    const kubeconfigPath = o.audit.kubeconfig(cluster, o.tool);
    const interval = `${o.intervalS}s`;

    // Set-up that is not the tool's work, before the clock starts.
    let start: () => Promise<Running>;
    if (o.tool === 'flux') {
      await installFluxCrds(kube);
      await createFluxObjects(kube, {
        repo,
        credentials: o.git.credentials,
        apps: o.apps,
        interval,
      });
      start = async () => {
        const flux = await startFluxControllers(kubeconfigPath);
        return {
          pids: () => flux.pids(),
          readyApps: (rev) => fluxReadyApps(kube, rev),
          trigger: () => requestFluxReconcile(kube),
          stop: () => flux.stop(),
        };
      };
    } else {
      const hub: Hub = await startBenchHub();
      stops.push(() => hub.process.stop());
      const startAgent = await prepareAgent({
        hub,
        repo,
        credentials: o.git.credentials,
        kubeconfigPath,
        interval,
      });
      start = async () => {
        const agent = startAgent();
        return {
          pids: () => [agent.process.serverPid() ?? agent.process.pid],
          readyApps: (rev) => driftlessReadyApps(hub, rev),
          trigger: (sha) => notifyDriftless(hub, repo, sha),
          stop: () => agent.stop(),
        };
      };
    }

    const t0 = Date.now();
    const tool = await start();
    stops.unshift(() => tool.stop());
    let peak = 0;
    sampler = setInterval(() => {
      const rss = tool.pids().reduce((sum, pid) => sum + procStatusMiB(pid, 'VmRSS'), 0);
      if (rss > peak) peak = rss;
    }, 250);
    const coldOptions = { timeoutMs: o.coldTimeoutS * 1000, everyMs: 250 };
    await waitFor(
      `${o.tool}: ${o.apps} Deployments Available`,
      async () => (await availableCount(kube, o.apps)) === o.apps,
      coldOptions,
    );
    result.availableMs = Date.now() - t0;
    o.log(`${o.tool} ${o.apps}: all Available after ${(result.availableMs / 1000).toFixed(1)} s`);
    await waitFor(
      `${o.tool}: ${o.apps} apps ready`,
      everyAppSeenReady(tool, o.apps, head),
      coldOptions,
    );
    const t1 = Date.now();
    result.readyMs = t1 - t0;
    result.coldRequests = o.audit.count(o.tool, t0, t1);
    result.peakRssMiB = peak;
    result.load.push(load1());
    o.log(
      `${o.tool} ${o.apps}: ready after ${(result.readyMs / 1000).toFixed(1)} s, ${result.coldRequests.total} requests, peak ${peak.toFixed(0)} MiB`,
    );

    // Idle: nothing changes for idleS seconds, after 10 s to let the last checks end.
    await sleep(10_000);
    const cpu = () => tool.pids().reduce((sum, pid) => sum + cpuSeconds(pid), 0);
    const [a0, cpu0] = [Date.now(), cpu()];
    const rss: number[] = [];
    while (Date.now() - a0 < o.idleS * 1000) {
      await sleep(1000);
      rss.push(tool.pids().reduce((sum, pid) => sum + procStatusMiB(pid, 'VmRSS'), 0));
    }
    const [a1, cpu1] = [Date.now(), cpu()];
    const idle = o.audit.count(o.tool, a0, a1);
    const minutes = (a1 - a0) / 60_000;
    result.idleRssMiB = median(rss);
    result.idleRequestsPerMin = idle.total / minutes;
    result.idlePerMinByVerb = Object.fromEntries(
      Object.entries(idle.byVerb).map(([verb, n]) => [verb, n / minutes]),
    );
    result.idleCpuPerMin = (cpu1 - cpu0) / minutes;
    result.load.push(load1());
    o.log(
      `${o.tool} ${o.apps} idle: ${result.idleRssMiB.toFixed(0)} MiB, ${result.idleRequestsPerMin.toFixed(0)} req/min ${JSON.stringify(idle.byVerb)}, ${result.idleCpuPerMin.toFixed(2)} CPU s/min`,
    );

    // Latency: a commit changes config-0 of app 0; drift edits config-1 of app 0.
    const latencyOptions = { timeoutMs: 120_000, everyMs: 20 };
    let revision = 1;
    const commitAndWait = async (hint: boolean): Promise<number> => {
      const value = `${++revision}`;
      head = await repo.commit({ [appFile(0)]: appObjects(0, value) }, `revision ${value}`);
      const t = performance.now();
      if (hint) await tool.trigger(head);
      await waitFor(
        `${o.tool}: revision ${value} applied`,
        async () => (await configData(kube, 'config-0'))['revision'] === value,
        latencyOptions,
      );
      const ms = performance.now() - t;
      await waitFor(`${o.tool}: ready at ${head}`, everyAppSeenReady(tool, o.apps, head), {
        timeoutMs: 300_000,
        everyMs: 200,
      });
      return ms;
    };
    for (let s = 0; s < o.samples; s++) {
      await sleep(Math.random() * o.intervalS * 1000);
      result.pollApplied.push(await commitAndWait(false));
    }
    for (let s = 0; s < o.samples; s++) {
      await sleep(500 + Math.random() * 1500);
      result.hintApplied.push(await commitAndWait(true));
    }
    // Each drift is a different ConfigMap edited by a different field manager: the same manager
    // re-writing the same field after every heal is a fight, which Driftless stops healing
    // (docs/agent.md, "Fights"), and is not what this measures.
    for (let s = 0; s < o.samples; s++) {
      await sleep(Math.random() * o.intervalS * 1000);
      const name = `config-${1 + (s % 5)}`;
      await kube.request(
        'PATCH',
        `/api/v1/namespaces/${appName(0)}/configmaps/${name}?fieldManager=bench-drift-${s}`,
        { data: { level: `drifted-${s}` } },
        'application/merge-patch+json',
      );
      const t = performance.now();
      await waitFor(
        `${o.tool}: drift ${s} corrected`,
        async () => (await configData(kube, name))['level'] === 'info',
        latencyOptions,
      );
      result.driftCorrected.push(performance.now() - t);
    }
    if (o.samples > 0)
      o.log(
        `${o.tool} ${o.apps} latency (ms): poll ${fmt(result.pollApplied)}; hint ${fmt(result.hintApplied)}; drift ${fmt(result.driftCorrected)}`,
      );
    result.load.push(load1());
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
    o.log(`${o.tool} ${o.apps} round ${o.round} failed: ${result.error}`);
  } finally {
    if (sampler) clearInterval(sampler);
    for (const stop of stops) await stop().catch(() => undefined);
  }
  return result;
}

const fmt = (values: number[]) => values.map((v) => v.toFixed(0)).join(' ');
