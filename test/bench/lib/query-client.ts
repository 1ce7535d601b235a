/**
 * Times HTTP API reads from a process of their own, as a dashboard user's browser or a script
 * would send them: the fleet benchmark's simulator holds ten thousand agent connections and a
 * heap of a gigabyte or more, and its own pauses (garbage collection, a burst of HTTP/2
 * frames on its agent connections) would otherwise count as the hub's latency.
 *
 * As a library: {@link timeQueries} spawns this file with Node and returns the milliseconds of
 * each read. As a program: reads a JSON {@link QueryPlan} on stdin, runs each read in turn
 * (`fetch`, the body read and parsed as `api()` of test/integration/hub/helpers.ts does) after
 * an untimed warm-up read, and prints the milliseconds as a JSON array on stdout.
 */
import { spawn } from 'node:child_process';
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
  /**
   * Read once, untimed, before the others (e.g. `/healthz`): the process's first `fetch` loads
   * its HTTP client and opens the connection, which a user's open dashboard has done already.
   */
  warmup?: string;
}

/** Runs `plan` in a fresh Node process; resolves with each read's wall-clock ms, in order. */
export function timeQueries(plan: QueryPlan): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
      stdio: ['pipe', 'pipe', 'pipe'],
      // None of the parent's options (a CPU profile of the simulator, its heap limit).
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`query client exited with ${code}: ${err}`));
      resolve(JSON.parse(out) as number[]);
    });
    child.stdin.end(JSON.stringify(plan));
  });
}

/** The program: one read after another, each timed from the request to the parsed body. */
async function main(): Promise<void> {
  let input = '';
  for await (const chunk of process.stdin) input += String(chunk);
  const plan = JSON.parse(input) as QueryPlan;
  if (plan.warmup) await (await fetch(plan.http + plan.warmup)).text();
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
  process.stdout.write(JSON.stringify(ms));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
