// Driftless side by side with Flux (source-controller + kustomize-controller, built from their Go
// modules by test/bench/flux/build.sh; `make bench` runs it first). The same workload against the
// same kind of cluster (a fresh harness workloads cluster per phase: real kube-apiserver + etcd +
// controller-manager + scheduler + kwok) in the same run, interleaved: each round runs a Flux
// phase and a Driftless phase per size, the order alternating from round to round. A phase starts
// the tool cold on `apps` apps × 10 objects (test/bench/flux/workload.ts) and measures:
//   - tool start → every Deployment Available, and → the tool has reported every app ready, each
//     app latched the first time it is seen (Flux: its Kustomization applied the head and is
//     Healthy, `wait: true`; Driftless: the hub shows the app Synced at the head and Healthy), and
//     the API requests the tool sent until then;
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
//   BENCH_COLD_TIMEOUT_S=900  BENCH_TOOLS=flux,driftless  BENCH_FLUX_ARGS (flux.ts)
//   BENCH_RESULTS=<json file, rewritten after every phase, with the table so far next to it as
//   <file>.md>; `--resume` keeps the phases of BENCH_RESULTS that finished and runs the others;
//   `--report [FILE]` prints the table of a saved results file.
// Rounds are the outer loop (each round runs every size), so a run stopped early has both sizes.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGitServer } from '@driftless/test';
import { createAudit } from './lib/audit.ts';
import { machineLoad } from './lib/measure.ts';
import { FLUX_KUSTOMIZE_ARGS, FLUX_VERSION } from './flux/flux.ts';
import { runPhase, type PhaseResult, type Tool } from './flux/phase.ts';
import { report, type ReportSettings } from './flux/report.ts';
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

/** What BENCH_RESULTS holds, rewritten after every phase. */
interface Saved {
  settings: ReportSettings;
  results: PhaseResult[];
}

/** The commit the benchmark runs (Driftless's code), with `+dirty` for uncommitted changes. */
function codeCommit(): string {
  const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim();
  try {
    return `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--untracked-files=no') ? '+dirty' : ''}`;
  } catch {
    return 'unknown';
  }
}

/** Writes the results and the table so far. */
function save(saved: Saved): void {
  writeFileSync(RESULTS, JSON.stringify(saved, null, 1));
  writeFileSync(
    `${RESULTS.replace(/\.json$/, '')}.md`,
    report(saved.results, saved.settings) + '\n',
  );
}

/**
 * Runs every phase: ROUNDS rounds, each of every size with one phase per tool, the order of
 * the tools alternating from round to round. With `resume`, phases of BENCH_RESULTS that
 * finished are kept and not run again.
 */
async function measureAll(resume: boolean): Promise<Saved> {
  const settings: ReportSettings = {
    fluxVersion: FLUX_VERSION,
    rounds: ROUNDS,
    sizes: SIZES,
    objectsPerApp: OBJECTS_PER_APP,
    intervalS: INTERVAL_S,
    idleS: IDLE_S,
    samples: SAMPLES,
    fluxArgs: [...FLUX_KUSTOMIZE_ARGS],
    commits: [codeCommit()],
    loadBefore: machineLoad(),
    loadAfter: '',
  };
  const saved: Saved = { settings, results: [] };
  if (resume && existsSync(RESULTS)) {
    const before = JSON.parse(readFileSync(RESULTS, 'utf8')) as Saved;
    saved.results = before.results.filter((r) => r.error === undefined);
    settings.loadBefore = before.settings.loadBefore;
    settings.sizes = [...new Set([...before.settings.sizes, ...SIZES])];
    settings.rounds = Math.max(before.settings.rounds, ROUNDS);
    settings.commits = [...new Set([...(before.settings.commits ?? []), ...settings.commits!])];
  }
  const done = (tool: Tool, apps: number, round: number) =>
    saved.results.some((r) => r.tool === tool && r.apps === apps && r.round === round);
  log(`start: ${machineLoad()}; code ${settings.commits!.join(', ')}; results in ${RESULTS}`);
  const audit = createAudit(TOOLS);
  // A run stopped with a signal leaves its results file, not the audit folder with the tokens
  // (the harness's watchdogs stop the servers).
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      audit.remove();
      log(`stopped by ${signal}; the phases so far are in ${RESULTS}`);
      process.exit(1);
    });
  const git = await startGitServer();
  try {
    for (let round = 0; round < ROUNDS; round++)
      for (const [k, apps] of SIZES.entries()) {
        const order = round % 2 === 0 ? TOOLS : [...TOOLS].reverse();
        for (const tool of order) {
          if (done(tool, apps, round)) continue;
          log(`round ${round + 1}/${ROUNDS}: ${tool}, ${apps} apps`);
          saved.results.push(
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
          settings.loadAfter = machineLoad();
          save(saved);
          (globalThis as { gc?: () => void }).gc?.();
        }
      }
  } finally {
    await git.stop();
    audit.remove();
  }
  return saved;
}

// `--report FILE` prints the table of a saved BENCH_RESULTS file (e.g. of a run cut short).
const reportFlag = process.argv.indexOf('--report');
const saved: Saved =
  reportFlag > 0
    ? (JSON.parse(readFileSync(process.argv[reportFlag + 1] ?? RESULTS, 'utf8')) as Saved)
    : await measureAll(process.argv.includes('--resume'));
console.log(report(saved.results, saved.settings));
