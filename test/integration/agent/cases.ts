/**
 * The handed real-world cases (`cases/<name>/repo` is the first commit,
 * `cases/<name>/steps/N` what commit N adds or replaces) as files to commit,
 * and a fleet per case: its own repository and agent on a shared cluster.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';
import type { GitServer, GitRepo } from '@driftless/test';
import { makeAgent, type TestAgent } from './fleet.ts';

const CASES = fileURLToPath(new URL('./cases/', import.meta.url));

/** Every file under `dir`, keyed by its path relative to `dir` (POSIX separators). */
async function filesUnder(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    out[path.relative(dir, full).split(path.sep).join('/')] = await readFile(full, 'utf8');
  }
  return out;
}

/** The files of a case's first commit (`step` 1) or of a later step. */
export function caseFiles(name: string, step = 1): Promise<Record<string, string>> {
  return filesUnder(path.join(CASES, name, step === 1 ? 'repo' : `steps/${step}`));
}

/** A case's repository (first commit made) and an agent reading it. */
export interface CaseFleet {
  repo: GitRepo;
  t: TestAgent;
  /** Commits step `n` of the case and runs one reconcile pass. */
  step(n: number): Promise<void>;
}

let repos = 0;

/** Starts a case: a new repository holding its first commit, and an agent for it. */
export async function startCase(
  name: string,
  env: { kubeConfig: KubeConfig; git: GitServer },
  /** Changes to the first commit, e.g. a field a later rule requires in `driftless.yaml`. */
  edit: (files: Record<string, string>) => Record<string, string> = (files) => files,
): Promise<CaseFleet> {
  const repo = await env.git.createRepo(`case-${++repos}`);
  await repo.commit(edit(await caseFiles(name)), `${name}: first commit`);
  const t = await makeAgent({ kubeConfig: env.kubeConfig, git: env.git, repo });
  return {
    repo,
    t,
    step: async (n) => {
      await repo.commit(await caseFiles(name, n), `${name}: step ${n}`);
      await t.agent.reconcileOnce();
    },
  };
}
