// Agent resident memory. `driftless-agent run` as its own process, started as users start it:
// "source" through the checkout's `bin/driftless-agent` launcher (its Node flags and compile
// cache; one `run --help` first fills the cache, as any earlier start would have); "bundle" as
// the agent image runs the bundle (`make bundle`; the `agent` stage's ENTRYPOINT and ENV of
// deploy/images/Containerfile, read from that file, so also what the chart runs); "plain" the
// bundle under plain `node`, as the release package's command runs it. Default flags, 1 h poll.
//
// Rows, for each program: Node alone with the program's Node flags and environment (no import),
// the agent with no app (Node plus our imports, no objects: the bare runtime's share), one app of
// 10 ConfigMaps, one app of 1,000 and ten apps of 1,000 (10,000; one app is limited to 5,000 by
// --render-max-objects). Every app also has its Namespace. Each agent has its own plain cluster
// (the drift watcher lists every object labelled as ours cluster-wide); the sizes of one program
// run at the same time, 10,000 on its own. We wait until every app's inventory ConfigMap records
// the head revision with every object, then until the agent's CPU time stops growing (under 20 ms
// a second, 3 s in a row: "when CPU quiet"), then 60 s more, and take the median of 5 VmRSS
// samples 1 s apart ("settled") and VmHWM ("peak": the most the process ever held, the sync
// included). Then the benchmark opens the agent's inspector (NODE_OPTIONS=--inspect-port=0 opens
// nothing until SIGUSR1), forces a full garbage collection and reads process.memoryUsage() and
// VmRSS again. Fresh clusters and processes each round; the programs alternate in order.
//
//   node --expose-gc test/bench/agent-memory.bench.ts
//     BENCH_RUNS=N (default 3) · BENCH_PROGRAMS=source,bundle,plain · BENCH_SIZES=0,10,1000,10000
//     (a size `AxN` is A apps of N ConfigMaps each, e.g. 200x10)
//     BENCH_VARIANTS='name: tokens; …' more programs: the image command with other flags,
//     variables or bundle (see variantPrograms), side by side in the same rounds
//     BENCH_BUNDLE=path/to/driftless-agent.mjs measures another bundle (default dist/bin/…)
//     BENCH_DETAIL=1 also prints each measurement as it is taken; BENCH_IDLE_S=N: how long after
//     the CPU is quiet "settled" is sampled (default 60)
//     BENCH_ENV='K=V …' adds variables to every program's environment, to try settings
//     (e.g. BENCH_ENV='MALLOC_ARENA_MAX=1'); BENCH_NODE_FLAGS='--flag …' adds Node flags to the
//     bundle's command line (also those NODE_OPTIONS refuses)
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { InventoryStore, KubeClient } from '@driftless/agent';
import {
  startCluster,
  startGitServer,
  waitFor,
  type Cluster,
  type GitServer,
} from '@driftless/test';
import { cpuQuiet, cpuSeconds, median } from './lib/measure.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const DETAIL = process.env['BENCH_DETAIL'] === '1';
/** Workloads: a number of ConfigMaps (apps of up to PER_APP), or `AxN`: A apps of N each. */
const SIZES = (process.env['BENCH_SIZES'] ?? '0,10,1000,10000').split(',').filter(Boolean);
/** Objects per app: above this, the objects are spread over apps of this size. */
const PER_APP = 1000;
/** BENCH_ENV: variables added to every program's environment. */
const EXTRA_ENV: Record<string, string> = Object.fromEntries(
  (process.env['BENCH_ENV'] ?? '')
    .split(/\s+(?=\w+=)/)
    .filter(Boolean)
    .map((kv) => {
      const at = kv.indexOf('=');
      return [kv.slice(0, at), kv.slice(at + 1)];
    }),
);
const SYNC_DEADLINE_MS = 900_000;
/** BENCH_BUNDLE: another bundle (e.g. an older build), for the bundle and plain rows. */
const BUNDLE = path.resolve(
  process.env['BENCH_BUNDLE'] ?? path.join(ROOT, 'dist/bin/driftless-agent.mjs'),
);
const IDLE_S = Number(process.env['BENCH_IDLE_S'] ?? 60);

/** How one program is started: command, arguments before `run`, extra environment. */
interface Program {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  /** The Node flags and environment it runs with, for the "Node alone" row. */
  nodeFlags: string[];
  nodeEnv: Record<string, string>;
  /** The command line as documented, for the report. */
  shown: string;
}

/**
 * `bin/driftless-agent run`, the launcher of a checkout; its Node flags and malloc setting are
 * read from the launcher (bin/driftless) for the "Node alone" row.
 */
function sourceProgram(): Program {
  const launcher = readFileSync(path.join(ROOT, 'bin/driftless'), 'utf8');
  const agentCase = /driftless-agent\)([\s\S]*?);;/.exec(launcher)?.[1] ?? '';
  const flags = /flags=\(([^)]*)\)/.exec(agentCase)?.[1]?.split(/\s+/).filter(Boolean) ?? [];
  const arenas = /MALLOC_ARENA_MAX:-(\d+)/.exec(agentCase)?.[1];
  return {
    name: 'source',
    command: path.join(ROOT, 'bin/driftless-agent'),
    args: [],
    env: { DRIFTLESS_NODE: process.execPath },
    nodeFlags: flags,
    nodeEnv: arenas ? { MALLOC_ARENA_MAX: arenas } : {},
    shown: 'bin/driftless-agent run',
  };
}

/** The bundle run by plain `node`, as the release package's `driftless-agent` command runs it. */
function plainBundleProgram(): Program {
  const bundle = BUNDLE;
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run make bundle first`);
  return {
    name: 'plain',
    command: process.execPath,
    args: [bundle],
    env: {},
    nodeFlags: [],
    nodeEnv: {},
    shown: 'node dist/bin/driftless-agent.mjs run',
  };
}

/**
 * The agent image's command with the bundle in place of /opt/driftless/bin: the `agent` stage's
 * ENTRYPOINT (JSON form) and the variables its ENV and the runtime stage's ENV set (DRIFTLESS_*
 * left out: the benchmark sets those).
 */
function bundleProgram(): Program {
  const file = readFileSync(path.join(ROOT, 'deploy/images/Containerfile'), 'utf8').replace(
    /\\\n/g,
    ' ',
  );
  const stage = (name: string) => {
    const start = file.search(new RegExp(`^FROM \\S+ AS ${name}$`, 'm'));
    const next = file.slice(start + 1).search(/^FROM /m);
    return file.slice(start, next < 0 ? undefined : start + 1 + next);
  };
  const env: Record<string, string> = {};
  for (const text of [stage('runtime'), stage('agent')])
    for (const line of text.matchAll(/^ENV (.+)$/gm))
      for (const [, key, value] of (line[1] ?? '').matchAll(/(\w+)=(\S+)/g))
        if (key && value !== undefined && !key.startsWith('DRIFTLESS_')) env[key] = value;
  const entry = /^ENTRYPOINT (\[.+\])$/m.exec(stage('agent'))?.[1];
  if (!entry) throw new Error('no ENTRYPOINT in the agent stage of deploy/images/Containerfile');
  const [node, ...entryArgs] = JSON.parse(entry) as string[];
  const extra = (process.env['BENCH_NODE_FLAGS'] ?? '').split(/\s+/).filter(Boolean);
  const args = [...extra, ...entryArgs];
  if (node !== 'node') throw new Error(`the agent image runs ${node}, not node`);
  const bundle = BUNDLE;
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run make bundle first`);
  return {
    name: 'bundle',
    command: process.execPath,
    args: args.map((a) => (a === '/opt/driftless/bin/driftless-agent.mjs' ? bundle : a)),
    env,
    nodeFlags: args.filter((a) => a.startsWith('-')),
    nodeEnv: env,
    shown: `${Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')} node ${args.join(' ')} run`,
  };
}

/**
 * BENCH_VARIANTS='name: token …; name: …': more programs, each the image's command (as "bundle")
 * with changes, measured side by side with the others in the same rounds. A token `K=V` sets a
 * variable (an empty V removes one the image sets), `bundle=path` runs another bundle (e.g. one
 * built from main, the baseline), `drop:--flag` drops a Node flag the image passes, `--flag`
 * adds a Node flag before the image's own.
 */
function variantPrograms(spec: string): Program[] {
  return spec
    .split(';')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const at = entry.indexOf(':');
      const name = (at < 0 ? entry : entry.slice(0, at)).trim();
      const tokens = (at < 0 ? '' : entry.slice(at + 1)).split(/\s+/).filter(Boolean);
      const image = bundleProgram();
      const env = { ...image.env };
      let args = [...image.args];
      const added: string[] = [];
      for (const token of tokens) {
        const kv = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(token);
        if (kv) {
          if (kv[2]) env[kv[1]!] = kv[2];
          else delete env[kv[1]!];
        } else if (token.startsWith('bundle=')) {
          const other = path.resolve(token.slice('bundle='.length));
          if (!existsSync(other)) throw new Error(`BENCH_VARIANTS ${name}: ${other} is missing`);
          args = args.map((a) => (a === BUNDLE ? other : a));
        } else if (token.startsWith('drop:')) {
          args = args.filter((a) => a !== token.slice('drop:'.length));
        } else if (token.startsWith('--')) {
          added.push(token);
        } else {
          throw new Error(`BENCH_VARIANTS ${name}: cannot read ${token}`);
        }
      }
      args = [...added, ...args];
      return {
        ...image,
        name,
        args,
        env,
        nodeFlags: args.filter((a) => a.startsWith('-')),
        nodeEnv: env,
        shown: `${Object.entries(env)
          .map(([k, v]) => `${k}=${v}`)
          .join(
            ' ',
          )} node ${args.map((a) => (a.startsWith('/') ? path.basename(a) : a)).join(' ')} run`,
      };
    });
}

const PROGRAMS = [
  ...(process.env['BENCH_PROGRAMS'] ?? 'source,bundle,plain')
    .split(',')
    .filter(Boolean)
    .map((name) => {
      if (name === 'source') return sourceProgram();
      if (name === 'bundle') return bundleProgram();
      if (name === 'plain') return plainBundleProgram();
      throw new Error(`BENCH_PROGRAMS: unknown program ${name} (source, bundle, plain)`);
    }),
  ...variantPrograms(process.env['BENCH_VARIANTS'] ?? ''),
];

function status(pid: number, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(
    readFileSync(`/proc/${pid}/status`, 'utf8'),
  );
  return match?.[1] ? Number(match[1]) / 1024 : Number.NaN;
}

/** Anonymous (heap, malloc, stacks) and file-backed (the node binary, libraries) resident MiB. */
function rssParts(pid: number): { anonMiB: number; fileMiB: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1] ?? 0);
  return { anonMiB: kb('Anonymous') / 1024, fileMiB: (kb('Rss') - kb('Anonymous')) / 1024 };
}

/** The largest anonymous mappings of a process by resident size, for BENCH_DETAIL. */
function largestMappings(pid: number, count = 12): string[] {
  const maps: { what: string; sizeKiB: number; rssKiB: number }[] = [];
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head)
      maps.push({
        what: `${head[3]} ${head[4] || '[anon]'}`,
        sizeKiB: (parseInt(head[2]!, 16) - parseInt(head[1]!, 16)) / 1024,
        rssKiB: 0,
      });
    const rss = /^Rss:\s+(\d+) kB$/.exec(line);
    const last = maps.at(-1);
    if (rss && last) last.rssKiB = Number(rss[1]);
  }
  return maps
    .sort((a, b) => b.rssKiB - a.rssKiB)
    .slice(0, count)
    .map(
      (m) =>
        `${m.what} size ${(m.sizeKiB / 1024).toFixed(1)} MiB rss ${(m.rssKiB / 1024).toFixed(1)} MiB`,
    );
}

/** User + system CPU seconds of a process (fields 14 and 15 of /proc/<pid>/stat, 1/100 s ticks). */

interface HeapFigures {
  heapUsed: number;
  heapTotal: number;
  external: number;
  code: number;
  /** V8's own malloc'ed memory (compiler zones and the like), now and at its peak. */
  malloced: number;
  peakMalloced: number;
}

/**
 * Opens the inspector of a process started with `--inspect-port=0` (SIGUSR1; it prints its
 * address on stderr), forces a full garbage collection and returns the heap figures: what the
 * heap keeps alive, apart from the room V8 grew into.
 */
async function collectGarbage(child: ChildProcess, stderr: () => string): Promise<HeapFigures> {
  child.kill('SIGUSR1');
  const url = await waitFor(
    'the agent to open its inspector',
    () => /ws:\/\/\S+/.exec(stderr())?.[0],
    { timeoutMs: 10_000, everyMs: 50 },
  );
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let id = 0;
  const call = (method: string, params: object = {}) =>
    new Promise<{ result?: { result?: { value?: string } } }>((resolve) => {
      const mine = ++id;
      const onMessage = (e: MessageEvent) => {
        const msg = JSON.parse(String(e.data)) as {
          id?: number;
          result?: { result?: { value?: string } };
        };
        if (msg.id !== mine) return;
        ws.removeEventListener('message', onMessage);
        resolve(msg);
      };
      ws.addEventListener('message', onMessage);
      ws.send(JSON.stringify({ id: mine, method, params }));
    });
  await call('HeapProfiler.collectGarbage');
  await call('HeapProfiler.collectGarbage');
  const usage = await call('Runtime.evaluate', {
    expression: `(() => { const v8 = process.getBuiltinModule('node:v8'); const h = v8.getHeapStatistics();
      return JSON.stringify({ ...process.memoryUsage(), malloced: h.malloced_memory, peakMalloced: h.peak_malloced_memory,
        code: v8.getHeapSpaceStatistics().find((s) => s.space_name === 'code_space')?.space_used_size ?? 0 }); })()`,
  });
  ws.close();
  const m = JSON.parse(usage.result?.result?.value ?? '{}') as Record<string, number>;
  const mib = (k: string) => (m[k] ?? Number.NaN) / 2 ** 20;
  return {
    heapUsed: mib('heapUsed'),
    heapTotal: mib('heapTotal'),
    external: mib('external'),
    code: mib('code'),
    malloced: mib('malloced'),
    peakMalloced: mib('peakMalloced'),
  };
}

interface Measure {
  program: string;
  size: string;
  syncedS: number;
  cpuS: number;
  /** VmRSS when the CPU went quiet. */
  quietMiB: number;
  /** Median VmRSS of 5 samples, IDLE_S after that. */
  rssMiB: number;
  peakMiB: number;
  anonMiB: number;
  fileMiB: number;
  /** After a forced full GC (through the inspector). */
  gcRssMiB: number;
  heap: HeapFigures;
}

/** The apps of a workload of `count` ConfigMaps: one app up to PER_APP, else apps of PER_APP. */
function appsOf(size: string): { name: string; objects: number }[] {
  const many = /^(\d+)x(\d+)$/.exec(size);
  if (many)
    return Array.from({ length: Number(many[1]) }, (_, i) => ({
      name: `app-${i}`,
      objects: Number(many[2]),
    }));
  const count = Number(size);
  if (!Number.isInteger(count)) throw new Error(`BENCH_SIZES: cannot read ${size}`);
  if (count === 0) return [];
  const apps = Math.ceil(count / PER_APP);
  return Array.from({ length: apps }, (_, i) => ({
    name: apps === 1 ? 'bulk' : `bulk-${i}`,
    objects: Math.min(PER_APP, count - i * PER_APP),
  }));
}

/** Starts `program` for `count` objects (with a cluster) or Node alone (without) and measures it. */
async function measure(
  program: Program,
  count: string, // a size, or 'node' for Node alone
  run: number,
  cluster?: Cluster,
  git?: GitServer,
): Promise<Measure> {
  const apps = appsOf(count === 'node' ? '0' : count);
  const env: Record<string, string | undefined> = {
    ...process.env,
    ...(count === 'node' ? program.nodeEnv : program.env),
    ...EXTRA_ENV,
    NODE_OPTIONS: `--inspect-port=0 ${EXTRA_ENV['NODE_OPTIONS'] ?? ''}`.trim(),
  };
  let command = program.command;
  let args = [...program.args, 'run'];
  let head = '';
  let workDir: string | undefined;
  let client: KubeClient | undefined;
  if (count === 'node') {
    // Node with the program's flags and environment, importing nothing.
    const nodeFlags = program.name === 'source' ? [] : program.nodeFlags;
    command = process.execPath;
    args = [...nodeFlags, '-e', 'setInterval(() => {}, 1 << 30)'];
  } else {
    if (!cluster || !git) throw new Error('an agent needs a cluster and a git server');
    const repo = await git.createRepo(`fleet-${program.name}-${count}-${run}`);
    const files: Record<string, string> = {
      'clusters/bench/driftless.yaml': `apiVersion: driftless.dev/v1alpha1\nkind: Cluster\nspec:\n${
        apps.length === 0
          ? '  allowEmpty: true\n  apps: []\n'
          : '  apps:\n' +
            apps
              .map(
                (a) =>
                  `    - name: ${a.name}\n      path: apps/${a.name}\n      namespace: ${a.name}\n      prune: true\n      selfHeal: true\n`,
              )
              .join('')
      }`,
    };
    for (const app of apps) {
      const items: string[] = [];
      for (let i = 0; i < app.objects; i++)
        items.push(
          `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: item-${i}\ndata:\n  index: "${i}"\n`,
        );
      files[`apps/${app.name}/namespace.yaml`] =
        `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${app.name}\n`;
      files[`apps/${app.name}/items.yaml`] = items.join('---\n');
    }
    await repo.commit(files, 'bulk apps');
    head = await repo.head();
    workDir = await mkdtemp(path.join(tmpdir(), 'driftless-bench-'));
    client = await KubeClient.fromKubeConfig(cluster.kubeConfig);
    Object.assign(env, {
      DRIFTLESS_REPO_URL: repo.url,
      DRIFTLESS_CLUSTER_NAME: 'bench',
      DRIFTLESS_GIT_USERNAME: git.credentials.username,
      DRIFTLESS_GIT_PASSWORD: git.credentials.password,
      DRIFTLESS_KUBECONFIG: cluster.kubeconfigPath,
      DRIFTLESS_WORK_DIR: workDir,
      DRIFTLESS_POLL_INTERVAL: '1h',
      DRIFTLESS_LOG_LEVEL: 'warn',
    });
  }
  const started = performance.now();
  const child: ChildProcess = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const pid = child.pid!;
  try {
    const deadline = performance.now() + SYNC_DEADLINE_MS;
    const inventory = client && new InventoryStore(client, 'driftless-system');
    const pending = new Set(apps);
    while (pending.size > 0) {
      if (child.exitCode !== null) throw new Error(`agent exited ${child.exitCode}: ${stderr}`);
      for (const app of pending) {
        const record = await inventory?.load(app.name).catch(() => undefined);
        if (record?.revision === head && record.objects.length === app.objects + 1)
          pending.delete(app);
      }
      if (performance.now() > deadline) throw new Error(`agent (${count}) did not sync: ${stderr}`);
      if (pending.size > 0) await sleep(apps.length > 20 ? 1000 : 200);
    }
    const syncedS = (performance.now() - started) / 1000;
    await cpuQuiet(pid, deadline);
    if (child.exitCode !== null) throw new Error(`agent exited ${child.exitCode}: ${stderr}`);
    const quietMiB = status(pid, 'VmRSS');
    // V8 hands back the room the heap grew into some time after the process goes quiet.
    await sleep(IDLE_S * 1000);
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      samples.push(status(pid, 'VmRSS'));
      await sleep(1000);
    }
    const parts = rssParts(pid);
    if (DETAIL) console.error(`${program.name} ${count}:\n  ${largestMappings(pid).join('\n  ')}`);
    const cpuS = cpuSeconds(pid);
    const peakMiB = status(pid, 'VmHWM');
    const heap = await collectGarbage(child, () => stderr);
    await sleep(1000);
    const m: Measure = {
      program: program.name,
      size: count,
      syncedS: count === 'node' || apps.length === 0 ? Number.NaN : syncedS,
      cpuS,
      quietMiB,
      rssMiB: median(samples),
      peakMiB,
      ...parts,
      gcRssMiB: status(pid, 'VmRSS'),
      heap,
    };
    if (DETAIL) console.error(JSON.stringify(m));
    return m;
  } finally {
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
    client?.close();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  }
}

const range = (values: number[], digits = 0): string =>
  values.every(Number.isNaN)
    ? '–'
    : `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;

/** One round of a program: Node alone and the small sizes at once, then 10,000 on its own. */
async function round(program: Program, git: GitServer, run: number): Promise<Measure[]> {
  // A program that fails (a bad flag, a crash) loses its row, not the run.
  const noted = async (count: string, m: Promise<Measure>): Promise<Measure[]> => {
    try {
      const result = await m;
      console.error(`measured ${JSON.stringify(result)}`);
      return [result];
    } catch (err) {
      console.error(
        `${program.name} ${count}: ${err instanceof Error ? err.message : String(err)}`,
      );
      return [];
    }
  };
  const withCluster = async (count: string) => {
    const cluster = await startCluster();
    try {
      return await noted(count, measure(program, count, run, cluster, git));
    } finally {
      await cluster.stop();
    }
  };
  const alone = (s: string) =>
    appsOf(s).length > 20 || appsOf(s).reduce((n, a) => n + a.objects, 0) >= 10_000;
  const small = SIZES.filter((s) => !alone(s));
  const large = SIZES.filter(alone);
  const results = (
    await Promise.all([noted('node', measure(program, 'node', run)), ...small.map(withCluster)])
  ).flat();
  for (const s of large) results.push(...(await withCluster(s)));
  return results;
}

// The source launcher's first start fills Node's compile cache; measure the starts after it.
if (PROGRAMS.some((p) => p.name === 'source'))
  execFileSync(path.join(ROOT, 'bin/driftless-agent'), ['run', '--help'], {
    env: { ...process.env, DRIFTLESS_NODE: process.execPath },
    stdio: 'ignore',
  });

const loads: number[] = [loadavg()[0] ?? 0];
const git = await startGitServer();
const all: Measure[] = [];
try {
  for (let run = 0; run < RUNS; run++) {
    const order = run % 2 ? [...PROGRAMS].reverse() : PROGRAMS;
    for (const program of order) {
      all.push(...(await round(program, git, run)));
      loads.push(loadavg()[0] ?? 0);
      (globalThis as { gc?: () => void }).gc?.();
    }
  }
} finally {
  await git.stop();
}

const rows = (program: string, size: string) =>
  all.filter((m) => m.program === program && m.size === size);
const label = (size: string) => {
  if (size === 'node') return 'Node alone (same flags)';
  const apps = appsOf(size);
  const objects = apps.reduce((n, a) => n + a.objects, 0);
  if (apps.length === 0) return 'agent, no app';
  return `${apps.length} app${apps.length > 1 ? 's' : ''}, ${objects.toLocaleString('en')} ConfigMaps`;
};
const out: string[] = [
  `${availableParallelism()} CPUs, load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)} during the run, Node ${process.version}; median (min–max) of ${RUNS} runs.`,
  '',
  ...PROGRAMS.map((p) => `- ${p.name}: \`${p.shown}\``),
  '',
  `| program | managing | RSS when CPU quiet | RSS settled (${IDLE_S} s later) | peak RSS (VmHWM) | peak ÷ settled | anonymous / file-backed | RSS after full GC | V8 heap used / total after GC | external | code space | start → synced (s) | CPU (s) |`,
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
];
for (const p of PROGRAMS)
  for (const size of ['node', ...SIZES]) {
    const m = rows(p.name, size);
    if (m.length === 0) continue;
    out.push(
      `| ${p.name} | ${label(size)} | ${[
        range(m.map((x) => x.quietMiB)),
        range(m.map((x) => x.rssMiB)),
        range(m.map((x) => x.peakMiB)),
        range(
          m.map((x) => x.peakMiB / x.rssMiB),
          2,
        ),
        `${median(m.map((x) => x.anonMiB)).toFixed(0)} / ${median(m.map((x) => x.fileMiB)).toFixed(0)}`,
        range(m.map((x) => x.gcRssMiB)),
        `${range(
          m.map((x) => x.heap.heapUsed),
          1,
        )} / ${median(m.map((x) => x.heap.heapTotal)).toFixed(1)}`,
        range(
          m.map((x) => x.heap.external),
          1,
        ),
        range(
          m.map((x) => x.heap.code),
          1,
        ),
        range(
          m.map((x) => x.syncedS),
          1,
        ),
        range(
          m.map((x) => x.cpuS),
          1,
        ),
      ].join(' | ')} |`,
    );
  }
out.push('', 'Per managed object, run by run (settled RSS; V8 heap after a full GC), in KiB:', '');
const slope = (p: string, a: number, b: number, pick: (m: Measure) => number) => {
  const as = rows(p, String(a));
  const bs = rows(p, String(b));
  const n = Math.min(as.length, bs.length);
  const values = Array.from(
    { length: n },
    (_, i) => ((pick(bs[i]!) - pick(as[i]!)) * 1024) / (b - a),
  );
  return n ? range(values, 1) : '–';
};
for (const p of PROGRAMS)
  for (const [a, b] of [
    [10, 1000],
    [1000, 10_000],
  ] as const)
    if (SIZES.includes(String(a)) && SIZES.includes(String(b)))
      out.push(
        `- ${p.name}, ${a.toLocaleString('en')} → ${b.toLocaleString('en')} objects: ${slope(p.name, a, b, (m) => m.rssMiB)} KiB RSS, ${slope(p.name, a, b, (m) => m.heap.heapUsed)} KiB heap`,
      );
console.log(out.join('\n'));
