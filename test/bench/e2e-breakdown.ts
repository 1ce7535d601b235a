/**
 * Where the time of one commit → applied goes, read back from the logs of the hub (info) and
 * the agents (debug): the hub's "refresh hints sent", the agent's "refresh hint", "git sync
 * done" (ls-refs, clone, verify), "reconcile pass: apps start" (config, ownership renders, gone
 * apps) and "sync <app>: <outcome>" (drift pause, then render, guard, plan, apply, prune, health).
 * A milestone an agent does not log (an older build) is left out; its time counts to the next.
 */
import { readFileSync } from 'node:fs';
import { median, spread as measureSpread } from './lib/measure.ts';

/** One point of a run, ms since the epoch. */
export interface Milestone {
  name: string;
  at: number;
}

type Line = Record<string, unknown>;

/** The JSON lines of a log file; lines that are not JSON are skipped. */
export function readLog(path: string): Line[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Line];
      } catch {
        return [];
      }
    });
}

const timeOf = (l: Line): number => Date.parse(String(l['time']));

/** When the hub sent the hints of `revision` (after the webhook's body was verified). */
export function hubHintAt(hubLog: Line[], revision: string): number | undefined {
  const l = hubLog.find(
    (x) => x['msg'] === 'git push: refresh hints sent' && x['revision'] === revision,
  );
  return l ? timeOf(l) : undefined;
}

/**
 * The milestones of one agent's handling of `revision` for `app`, in order, up to the end of
 * the apply step; `after` are those from the apply's end on (prune, health).
 */
export function agentMilestones(
  log: Line[],
  revision: string,
  app: string,
): { before: Milestone[]; after: Milestone[] } {
  const before: Milestone[] = [];
  const after: Milestone[] = [];
  const hint = log.find((l) => l['msg'] === 'hub link: refresh hint' && l['revision'] === revision);
  if (hint) before.push({ name: 'hint → agent has it', at: timeOf(hint) });
  const pass = log.find(
    (l) => l['msg'] === 'reconcile pass: apps start' && l['revision'] === revision,
  );
  const git = log.find(
    (l) => l['msg'] === 'git sync done' && l['revision'] === revision && l['changed'] === true,
  );
  if (pass) {
    const start = Number(pass['fetchStartedAt']);
    before.push({ name: 'agent starts the pass', at: start });
    if (git) {
      let at = start + Number(git['lsRefsMs']);
      before.push({ name: 'ls-refs', at });
      at += Number(git['cloneMs']);
      before.push({ name: 'fetch (clone, checkout)', at });
      at += Number(git['verifyMs']);
      before.push({ name: 'signature check', at });
    }
    before.push({ name: 'git done (other)', at: Number(pass['fetchedAt']) });
    before.push({ name: 'read driftless.yaml', at: Number(pass['configAt']) });
    before.push({ name: 'ownership renders (every app)', at: Number(pass['ownershipAt']) });
    before.push({ name: 'apps gone from Git', at: Number(pass['goneAt']) });
  }
  const sync = log.find(
    (l) =>
      typeof l['msg'] === 'string' &&
      l['msg'].startsWith(`sync ${app}: `) &&
      l['revision'] === revision,
  );
  if (sync) {
    before.push({ name: 'wait for the app (deps, drift pause)', at: Number(sync['syncAt']) });
    let at = Number(sync['syncAt']);
    let applied = false;
    for (const step of sync['steps'] as { name: string; durationMs: number }[]) {
      if (step.name === 'fetch') continue;
      at += step.durationMs;
      (applied ? after : before).push({ name: step.name, at });
      if (step.name === 'apply') applied = true;
    }
  }
  return { before, after };
}

/** Median, min and max of `values` as `median (min–max)` in whole ms; `–` when empty. */
export function spread(values: number[]): string {
  return values.length === 0 ? '–' : measureSpread(values, (v) => v.toFixed(0));
}

/**
 * A markdown table of phases over many samples: each sample is the milestones of one cluster
 * in one run, starting at the commit; a phase is the time from the milestone before it.
 */
export function phaseTable(samples: Milestone[][]): string {
  const names: string[] = [];
  for (const s of samples) for (const m of s) if (!names.includes(m.name)) names.push(m.name);
  const first = samples[0]?.[0]?.name ?? 'the start';
  const rows = [
    `| phase (per cluster) | took, ms: median (min–max) | done, ms after ${first}: median |`,
    '| --- | --- | --- |',
  ];
  for (const name of names) {
    const took: number[] = [];
    const at: number[] = [];
    for (const s of samples) {
      const i = s.findIndex((m) => m.name === name);
      if (i <= 0) continue;
      took.push(s[i]!.at - s[i - 1]!.at);
      at.push(s[i]!.at - s[0]!.at);
    }
    if (took.length > 0) rows.push(`| ${name} | ${spread(took)} | ${median(at).toFixed(0)} |`);
  }
  return rows.join('\n');
}
