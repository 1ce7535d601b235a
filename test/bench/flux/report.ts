/**
 * The table of the side-by-side benchmark from its phase results: per row Flux and Driftless
 * as median (min–max) over the finished phases (latency rows: over every sample of every round)
 * and the ratio of the medians, Driftless ÷ Flux; then the phases that did not finish and the
 * requests by verb.
 */
import { median, spread } from '../lib/measure.ts';
import type { PhaseResult, Tool } from './phase.ts';

/** How the run was configured, for the table's heading. */
export interface ReportSettings {
  fluxVersion: string;
  rounds: number;
  sizes: number[];
  objectsPerApp: number;
  intervalS: number;
  idleS: number;
  samples: number;
  /** kustomize-controller's concurrency flags (absent in files of older runs). */
  fluxArgs?: string[];
  /** The Driftless commit(s) measured (more than one after a `--resume` on new code). */
  commits?: string[];
  loadBefore: string;
  loadAfter: string;
}

const ms = (v: number) => `${v.toFixed(0)} ms`;
const sec = (v: number) => `${(v / 1000).toFixed(1)} s`;
const int = (v: number) => v.toFixed(0);
const one = (v: number) => v.toFixed(1);

/** The Markdown report. */
export function report(results: PhaseResult[], s: ReportSettings): string {
  // A phase that failed part-way still counts with what it measured before the failure.
  const of = (tool: Tool, apps: number) =>
    results.filter((r) => r.tool === tool && r.apps === apps);
  const row = (what: string, pick: (tool: Tool) => number[], format: (v: number) => string) => {
    const [flux, ours] = [pick('flux'), pick('driftless')];
    const ratio = median(ours) / median(flux);
    return `| ${what} | ${spread(flux, format)} | ${spread(ours, format)} | ${!Number.isFinite(ratio) ? 'n/a' : ratio === 0 || ratio >= 0.1 ? ratio.toFixed(2) : ratio.toPrecision(2)} |`;
  };
  const first = s.sizes[0]!;
  const pooled = (key: 'pollApplied' | 'hintApplied' | 'driftCorrected') => (tool: Tool) =>
    of(tool, first).flatMap((r) => r[key]);
  const rounds = (tool: Tool, apps: number) => of(tool, apps).length;
  const lines = [
    `Flux ${s.fluxVersion}; ${s.sizes.join(' and ')} apps × ${s.objectsPerApp} objects; phases (Flux / Driftless): ${s.sizes
      .map((apps) => `${apps} apps ${rounds('flux', apps)} / ${rounds('driftless', apps)}`)
      .join(
        ', ',
      )} of ${s.rounds} rounds; Driftless at ${s.commits?.join(', ') ?? 'an unrecorded commit'}; kustomize-controller ${s.fluxArgs?.join(' ') ?? 'at its default concurrency'}; poll interval ${s.intervalS} s for both (Flux GitRepository and Kustomization interval); idle window ${s.idleS} s; ${s.samples} latency samples per round (${first} apps).`,
    `Load: ${s.loadBefore} before; ${s.loadAfter} after; 1-minute load per phase (start→ready→idle end→latency end): ${results
      .map((r) => `${r.tool[0]}${r.apps}/${r.round + 1} ${r.load.map(one).join('→')}`)
      .join(', ')}.`,
    '',
    '| workload | Flux, median (min–max) | Driftless, median (min–max) | Driftless ÷ Flux |',
    '| --- | --- | --- | --- |',
    row(`commit → applied, both polling every ${s.intervalS} s`, pooled('pollApplied'), ms),
    row(
      'commit → applied, best trigger (Flux requestedAt annotation / Driftless webhook hint)',
      pooled('hintApplied'),
      ms,
    ),
    row(
      `drift → corrected (Flux at its ${s.intervalS} s interval, Driftless from its watch)`,
      pooled('driftCorrected'),
      ms,
    ),
  ];
  for (const apps of s.sizes) {
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
      'Phases that did not finish (what they measured before the failure is in the medians):',
      ...failed.map((r) => `- ${r.tool}, ${r.apps} apps, round ${r.round + 1}: ${r.error}`),
    );
  lines.push(
    '',
    'API requests by verb, median per phase: cold start until ready / idle per minute',
    '',
    ...s.sizes.flatMap((apps) =>
      (['flux', 'driftless'] as const).map((tool) => {
        const phases = of(tool, apps);
        const verbs = [
          ...new Set(
            phases.flatMap((r) => [
              ...Object.keys(r.coldRequests?.byVerb ?? {}),
              ...Object.keys(r.idlePerMinByVerb ?? {}),
            ]),
          ),
        ].sort();
        return `- ${tool}, ${apps} apps: ${verbs
          .map(
            (v) =>
              `${v} ${int(median(phases.map((r) => r.coldRequests?.byVerb[v] ?? 0)))} / ${int(
                median(phases.map((r) => r.idlePerMinByVerb?.[v] ?? 0)),
              )}`,
          )
          .join(', ')}`;
      }),
    ),
  );
  return lines.join('\n');
}
