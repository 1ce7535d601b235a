// Driftless side by side with Flux (source-controller + kustomize-controller, built from their Go
// modules by test/bench/flux/build.sh; `make bench` runs it first). The same workload against the
// same kind of cluster (a fresh harness workloads cluster per phase: real kube-apiserver + etcd +
// controller-manager + scheduler + kwok) in the same run, interleaved: each round runs a Flux
// phase and a Driftless phase per size, the order alternating from round to round. A phase starts
// the tool cold on `apps` apps × 10 objects (test/bench/flux/workload.ts) and measures:
//   - tool start → every Deployment Available, and → the tool reports every app ready (Flux:
//     every Kustomization Ready at the head with `wait: true`; Driftless: the hub shows every app
//     Synced at the head and Healthy), and the API requests the tool sent until then;
//   - RSS peak (sum of the tool's processes, sampled every 250 ms; Flux = its two controllers,
//     Driftless = the agent; the hub is outside the cluster and not counted);
//   - idle for BENCH_IDLE_S: RSS (median of 1 s samples), API requests per minute, CPU s per minute;
//   - on the first size only: commit → applied with both tools polling every BENCH_INTERVAL s
//     (a random pause of up to one interval before each commit), with each tool's best trigger
//     (Flux: `reconcile.fluxcd.io/requestedAt` on the GitRepository; Driftless: the Git host's
//     push webhook to the hub, which hints the agent), and drift → corrected (a merge patch of a
//     managed ConfigMap field; Flux corrects at its Kustomization interval, Driftless from its
//     watch).
// API requests are counted from the API server's audit log: each tool has its own identity (a
// token of its own user), and only those users are audited (test/bench/lib/audit.ts). Results go
// to docs/benchmarks.md ("Side by side with Flux").
//
//   node --expose-gc test/bench/flux-side-by-side.bench.ts
//   BENCH_ROUNDS=3  BENCH_APPS=50,200  BENCH_SAMPLES=5  BENCH_INTERVAL=10  BENCH_IDLE_S=60
//   BENCH_COLD_TIMEOUT_S=900  BENCH_TOOLS=flux,driftless  BENCH_RESULTS=<json file>
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGitServer } from '@driftless/test';
import { createAudit } from './lib/audit.ts';
import { machineLoad, median, spread } from './lib/measure.ts';
import { FLUX_VERSION } from './flux/flux.ts';
import { runPhase, type PhaseResult, type Tool } from './flux/phase.ts';
import { OBJECTS_PER_APP } from './flux/workload.ts';

const env = (name: string, fallback: string): string => process.env[name] ?? fallback;
const ROUNDS = Number(env('BENCH_ROUNDS', '3'));
const SIZES = env('BENCH_APPS', '50,200').split(',').map(Number);
const SAMPLES = Number(env('BENCH_SAMPLES', '5'));
const INTERVAL_S = Number(env('BENCH_INTERVAL', '10'));
const IDLE_S = Number(env('BENCH_IDLE_S', '60'));
const COLD_TIMEOUT_S = Number(env('BENCH_COLD_TIMEOUT_S', '900'));
const TOOLS = env('BENCH_TOOLS', 'flux,driftless').split(',') as Tool[];
const RESULTS = env('BENCH_RESULTS', join(tmpdir(), 'flux-side-by-side.json'));

const log = (line: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const loadBefore = machineLoad();
log(`start: ${loadBefore}`);

const results: PhaseResult[] = [];
const audit = createAudit(TOOLS);
const git = await startGitServer();
try {
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? TOOLS : [...TOOLS].reverse();
    for (const [k, apps] of SIZES.entries())
      for (const tool of order) {
        log(`round ${round + 1}/${ROUNDS}: ${tool}, ${apps} apps`);
        results.push(
          await runPhase({
            tool,
            apps,
            round,
            intervalS: INTERVAL_S,
            idleS: IDLE_S,
            samples: k === 0 ? SAMPLES : 0,
            coldTimeoutS: COLD_TIMEOUT_S,
            git,
            audit,
            log,
          }),
        );
        writeFileSync(RESULTS, JSON.stringify(results, null, 1));
        (globalThis as { gc?: () => void }).gc?.();
      }
  }
} finally {
  await git.stop();
  audit.remove();
}

// ---- the table -------------------------------------------------------------------------------
const of = (tool: Tool, apps: number) =>
  results.filter((r) => r.tool === tool && r.apps === apps && r.error === undefined);
const ms = (v: number) => `${v.toFixed(0)} ms`;
const sec = (v: number) => `${(v / 1000).toFixed(1)} s`;
const int = (v: number) => v.toFixed(0);
const one = (v: number) => v.toFixed(1);

/** A row: Flux and Driftless median (min–max) and the ratio of the medians. */
function row(what: string, pick: (tool: Tool) => number[], format: (v: number) => string): string {
  const [flux, ours] = [pick('flux'), pick('driftless')];
  const ratio = median(ours) / median(flux);
  return `| ${what} | ${spread(flux, format)} | ${spread(ours, format)} | ${Number.isFinite(ratio) ? ratio.toFixed(2) : 'n/a'} |`;
}

const [first] = SIZES;
const pooled = (key: 'pollApplied' | 'hintApplied' | 'driftCorrected') => (tool: Tool) =>
  of(tool, first!).flatMap((r) => r[key]);
const lines = [
  `Flux ${FLUX_VERSION}; ${ROUNDS} rounds; ${SIZES.join(' and ')} apps × ${OBJECTS_PER_APP} objects; poll interval ${INTERVAL_S} s for both (Flux GitRepository and Kustomization interval); idle window ${IDLE_S} s; ${SAMPLES} latency samples per round.`,
  `Load: ${loadBefore} before; ${machineLoad()} after; 1-minute load per phase: ${results
    .map((r) => `${r.tool[0]}${r.apps}/${r.round + 1}: ${r.load.map(one).join('→')}`)
    .join(', ')}.`,
  '',
  '| workload | Flux, median (min–max) | Driftless, median (min–max) | Driftless ÷ Flux |',
  '| --- | --- | --- | --- |',
  row(`commit → applied, both polling every ${INTERVAL_S} s`, pooled('pollApplied'), ms),
  row(
    'commit → applied, best trigger (Flux requestedAt annotation / Driftless webhook hint)',
    pooled('hintApplied'),
    ms,
  ),
  row(
    `drift → corrected (Flux at its ${INTERVAL_S} s interval, Driftless from its watch)`,
    pooled('driftCorrected'),
    ms,
  ),
];
for (const apps of SIZES) {
  const pick = (f: (r: PhaseResult) => number | undefined) => (tool: Tool) =>
    of(tool, apps)
      .map(f)
      .filter((v): v is number => v !== undefined);
  lines.push(
    row(
      `cold, ${apps} apps: all Deployments Available`,
      pick((r) => r.availableMs),
      sec,
    ),
    row(
      `cold, ${apps} apps: tool reports all ready`,
      pick((r) => r.readyMs),
      sec,
    ),
    row(
      `cold, ${apps} apps: API requests until ready`,
      pick((r) => r.coldRequests?.total),
      int,
    ),
    row(
      `RSS peak, ${apps} apps (MiB)`,
      pick((r) => r.peakRssMiB),
      int,
    ),
    row(
      `RSS idle, ${apps} apps (MiB)`,
      pick((r) => r.idleRssMiB),
      int,
    ),
    row(
      `idle API requests/min, ${apps} apps`,
      pick((r) => r.idleRequestsPerMin),
      int,
    ),
    row(
      `idle CPU s/min, ${apps} apps`,
      pick((r) => r.idleCpuPerMin),
      (v) => v.toFixed(2),
    ),
  );
}
const failed = results.filter((r) => r.error !== undefined);
if (failed.length)
  lines.push(
    '',
    'Phases that did not finish (not in the medians):',
    ...failed.map((r) => `- ${r.tool}, ${r.apps} apps, round ${r.round + 1}: ${r.error}`),
  );
lines.push(
  '',
  'Requests by verb (median per phase): cold / idle per minute',
  ...SIZES.flatMap((apps) =>
    (['flux', 'driftless'] as const).map((tool) => {
      const verbs = [
        ...new Set(of(tool, apps).flatMap((r) => Object.keys(r.coldRequests?.byVerb ?? {}))),
      ].sort();
      return `- ${tool}, ${apps} apps: ${verbs
        .map(
          (v) =>
            `${v} ${int(median(of(tool, apps).map((r) => r.coldRequests?.byVerb[v] ?? 0)))} / ${int(
              median(of(tool, apps).map((r) => ((r.idleByVerb?.[v] ?? 0) * 60) / IDLE_S)),
            )}`,
        )
        .join(', ')}`;
    }),
  ),
);
console.log(lines.join('\n'));
