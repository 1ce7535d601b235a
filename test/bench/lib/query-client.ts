/**
 * Times HTTP API reads from a process of their own, as a dashboard user's browser or a script
 * would send them: the fleet benchmark's simulator holds ten thousand agent connections and a
 * heap of a gigabyte or more, and its own pauses (its event loop held up for 170–475 ms while
 * the hub answered every drift query in under 60 ms, see docs/benchmarks.md) would otherwise
 * count as the hub's latency.
 *
 * As a library: {@link startQueryClient} spawns this file with Node; the child loads its HTTP
 * client and opens its connection with an untimed read first (a user's open dashboard has done
 * both), says it is ready, and runs the timed reads when told to. As a program: reads a JSON
 * {@link QueryPlan} line on stdin, warms up, prints `ready`, waits for a `go` line, runs each
 * read in turn (`fetch`, the body read and parsed as `api()` of
 * test/integration/hub/helpers.ts does) and prints the milliseconds as a JSON array.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** What the child process reads: the hub, the token, and the paths to read, in order. */
export interface QueryPlan {
  /** Base URL of the hub's HTTP API. */
  http: string;
  /** API token sent as `Authorization: Bearer`. */
  token: string;
  /** Paths read one after another; each path `times` times in a row. */
  paths: string[];
  times: number;
  /** Read once, untimed, before saying ready (e.g. `/healthz`). */
  warmup: string;
}

/** A warmed-up query process: {@link QueryClient.run} starts its timed reads. */
export interface QueryClient {
  /** Runs the plan's reads now; resolves with each read's wall-clock ms, in order. */
  run(): Promise<number[]>;
}

/** Spawns a query process for `plan`; resolves once it has warmed up. */
export function startQueryClient(plan: QueryPlan): Promise<QueryClient> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    // None of the parent's options (a CPU profile of the simulator, its heap limit).
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const failed = new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code) =>
      reject(new Error(`query client exited with ${code} before answering: ${err}`)),
    );
  });
  failed.catch(() => undefined);
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const line = await Promise.race([lines.next(), failed]);
    if (line.done) throw new Error(`query client ended its output: ${err}`);
    return line.value;
  };
  child.stdin.write(JSON.stringify(plan) + '\n');
  return next().then((ready) => {
    if (ready !== 'ready') throw new Error(`query client said ${ready.slice(0, 200)}`);
    return {
      run: async () => {
        child.stdin.end('go\n');
        return JSON.parse(await next()) as number[];
      },
    };
  });
}

/** The program: warm up, say ready, and on `go` run one read after another, each timed. */
async function main(): Promise<void> {
  const input = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const plan = JSON.parse(String((await input.next()).value)) as QueryPlan;
  await (await fetch(plan.http + plan.warmup)).text();
  process.stdout.write('ready\n');
  if ((await input.next()).value !== 'go') return;
  const ms: number[] = [];
  for (const path of plan.paths)
    for (let k = 0; k < plan.times; k++) {
      const t0 = performance.now();
      const res = await fetch(plan.http + path, {
        headers: { authorization: `Bearer ${plan.token}` },
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${text.slice(0, 200)}`);
      JSON.parse(text);
      ms.push(performance.now() - t0);
    }
  process.stdout.write(JSON.stringify(ms) + '\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
