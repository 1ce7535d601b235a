// One app on one cluster: state, revision (linked to its commit), the plan waiting when it
// is out of sync, its open drift, and its sync history with per-step durations and traces.
import { query, type Approval, type Drift, type SyncRecord } from '../api.ts';
import { Ago, Badge, Notice, PageHeader, PlanView, Revision, TraceLink } from '../components.tsx';
import {
  asLastReported,
  driftInfo,
  duration,
  HEALTH,
  isReporting,
  needsApproval,
  notReportingText,
  SYNC,
  when,
} from '../model.ts';
import { href } from '../router.ts';
import { useEventTick, useFleet, useLoad, useSession } from '../session.ts';
import { OperatorActions, PauseBadge, PauseBanner } from '../suspension.tsx';
import { AppTreeSection } from './app-tree.tsx';
import { ApproveButton } from './approvals.tsx';
import { DriftCard } from './drift.tsx';

const RESULT: Record<
  string,
  { tone: 'ok' | 'bad' | 'info' | 'warn'; symbol: string; text: string }
> = {
  succeeded: { tone: 'ok', symbol: '✓', text: 'Succeeded' },
  failed: { tone: 'bad', symbol: '✕', text: 'Failed' },
  planned: { tone: 'info', symbol: '◇', text: 'Planned (dry run)' },
  'waiting-approval': { tone: 'warn', symbol: '‖', text: 'Waiting for approval' },
  'approval-stale': { tone: 'warn', symbol: '⚠', text: 'Approval stale' },
  suspended: { tone: 'warn', symbol: '‖', text: 'Paused: not applied' },
};

/** A record of an app carried to a commit that left its sources alone: nothing was applied. */
const CARRIED = { tone: 'info', symbol: '→', text: 'Carried: sources unchanged' } as const;
const isCarry = (steps: { name: string }[]) => steps.length === 1 && steps[0]?.name === 'carry';

export function AppPage({ cluster, app }: { cluster: string; app: string }) {
  const { api } = useSession();
  const fleet = useFleet();
  const mine = (e: { cluster?: string; app?: string }) => e.cluster === cluster;
  const tick = useEventTick(mine);
  const history = useLoad(
    () => api.list<SyncRecord>('/api/v1/history' + query({ cluster, app, limit: 50 })),
    [tick],
  );
  const drift = useLoad(
    () => api.list<Drift>('/api/v1/drift' + query({ cluster, app, state: 'open', limit: 100 })),
    [tick],
  );
  const approvals = useLoad(
    () => api.list<Approval>('/api/v1/approvals' + query({ cluster })),
    [tick],
  );

  if (!fleet.loaded) return <p class="muted">Loading…</p>;
  const a = fleet.appsOf(cluster).find((x) => x.app === app);
  const c = fleet.cluster(cluster);
  const reporting = isReporting(c);
  // An app (or its cluster, whose connection the page shows) not read yet may still be on a
  // later page of the load.
  if ((!a || !c) && !fleet.complete) return <p class="muted">Loading…</p>;
  if (!a)
    return (
      <Notice kind="error">
        Cluster {cluster} has reported no app named {app}.
      </Notice>
    );

  return (
    <>
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href={href()}>Fleet</a> / <a href={href('clusters', cluster)}>{cluster}</a> /{' '}
        <span>{app}</span>
      </nav>
      <PageHeader
        title={
          <>
            {app} <span class="muted light">on {cluster}</span>
          </>
        }
        sub={
          <span class="badges">
            <Badge info={asLastReported(SYNC[a.syncStatus], reporting)} />
            <Badge info={asLastReported(HEALTH[a.health], reporting)} />
            <Badge info={driftInfo(a.driftCount)} />
            {a.gone && <Badge info={{ tone: 'muted', symbol: '⌫', text: 'Removed from Git' }} />}
            <PauseBadge s={a.suspension} />
          </span>
        }
        actions={
          <OperatorActions
            cluster={cluster}
            app={app}
            connected={c?.connected ?? false}
            paused={a.suspension?.app === app ? a.suspension : null}
          />
        }
      />
      <PauseBanner s={a.suspension} />
      {!reporting && (
        <Notice kind="error">
          <span data-testid="not-reporting">
            Not reporting: {notReportingText(c)}. What this page shows is what the agent last
            reported; the cluster may have changed since.
          </span>
        </Notice>
      )}

      <section class="card">
        <dl class="facts grid">
          <div>
            <dt>Revision</dt>
            <dd class="revision">
              <Revision revision={a.revision} cluster={cluster} app={app} />
            </dd>
          </div>
          <div>
            <dt>Sync mode</dt>
            <dd>{a.syncMode}</dd>
          </div>
          <div>
            <dt>Last sync</dt>
            <dd>
              <Ago iso={a.lastSync} /> <span class="muted small">{when(a.lastSync)}</span>
            </dd>
          </div>
          <div>
            <dt>Updated</dt>
            <dd>
              <Ago iso={a.updatedAt} />
            </dd>
          </div>
          {a.healthMessage && (
            <div class="wide">
              <dt>Health</dt>
              <dd>{a.healthMessage}</dd>
            </div>
          )}
          {a.message && (
            <div class="wide">
              <dt>Agent says</dt>
              <dd>{a.message}</dd>
            </div>
          )}
        </dl>
      </section>

      {(a.syncStatus === 'out-of-sync' || a.pendingPlan.length > 0) && (
        <section class="card" aria-labelledby="plan-title">
          <div class="section-head">
            <h2 id="plan-title">Plan: what a sync would change</h2>
            {needsApproval(a) && (
              <ApproveButton
                app={a}
                approvals={approvals.value ?? []}
                onApproved={() => approvals.reload()}
              />
            )}
          </div>
          {a.planDigest && (
            <p class="muted small">
              Plan digest <code>{a.planDigest}</code>
            </p>
          )}
          {a.pendingPlan.length > 0 ? (
            <PlanView plan={a.pendingPlan} />
          ) : (
            <p class="muted">
              The agent sends the plan for manual and dry-run apps; this app is {a.syncMode}.
            </p>
          )}
        </section>
      )}

      <AppTreeSection cluster={cluster} app={app} />

      <h2>Open drift</h2>
      {drift.error && <Notice kind="error">{drift.error}</Notice>}
      {drift.value && drift.value.length === 0 && <p class="empty">No open drift.</p>}
      <ul class="drift-list">
        {(drift.value ?? []).map((d) => (
          <DriftCard key={d.driftId} d={d} hideApp />
        ))}
      </ul>

      <h2>Sync history</h2>
      {history.error && <Notice kind="error">{history.error}</Notice>}
      <div class="table-wrap">
        <table class="list history">
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">Revision</th>
              <th scope="col">Result</th>
              <th scope="col">Duration</th>
              <th scope="col">Steps</th>
              <th scope="col">Trace</th>
            </tr>
          </thead>
          <tbody>
            {(history.value ?? []).map((s) => (
              <tr key={s.syncId}>
                <td>
                  <span title={when(s.startedAt)}>{when(s.startedAt)}</span>
                </td>
                <td>
                  <Revision revision={s.revision} cluster={cluster} app={app} />
                </td>
                <td>
                  <Badge
                    info={
                      isCarry(s.steps)
                        ? CARRIED
                        : (RESULT[s.result] ?? { tone: 'muted', symbol: '?', text: s.result })
                    }
                  />
                  {s.error && <div class="error-text">{s.error}</div>}
                </td>
                <td class="num">{duration(s.durationMs)}</td>
                <td>
                  <Steps steps={s.steps} durationMs={s.durationMs} />
                </td>
                <td>
                  <TraceLink traceId={s.traceId} cluster={cluster} app={app} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {history.value && history.value.length === 0 && <p class="empty">No sync recorded yet.</p>}
      </div>
    </>
  );
}

/**
 * Per-step durations against the sync's own duration: a bar whose segments are each step's
 * share of it, the time in no step (config and ownership checks, waiting for dependencies)
 * shown as such, and the numbers in words.
 */
export function Steps({
  steps,
  durationMs,
}: {
  steps: { name: string; durationMs: number }[];
  durationMs: number;
}) {
  if (!steps.length) return <span class="muted">—</span>;
  const { parts, total } = stepParts(steps, durationMs);
  return (
    <div class="steps">
      <div class="steps-bar" aria-hidden="true">
        {parts.map((p, i) => (
          <span
            key={i}
            class={p.gap ? 'step step-gap' : `step step-${i % 6}`}
            style={{ width: `${(100 * p.durationMs) / total}%` }}
            title={`${p.name}: ${duration(p.durationMs)}`}
          />
        ))}
      </div>
      <ul class="steps-list">
        {parts.map((p, i) => (
          <li key={i} class={p.gap ? 'muted' : undefined}>
            <span class={p.gap ? 'swatch step-gap' : `swatch step-${i % 6}`} aria-hidden="true" />
            {p.name} <span class="num">{duration(p.durationMs)}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}

/**
 * The segments of a sync's step bar: its steps and, when they add up to less than the sync's
 * duration, the rest as one gap after the fetch (where the agent's pass works between the
 * fetch and this app's first step). `total` is what the widths are shares of.
 */
export function stepParts(
  steps: { name: string; durationMs: number }[],
  durationMs: number,
): { parts: { name: string; durationMs: number; gap: boolean }[]; total: number } {
  const sum = steps.reduce((n, s) => n + s.durationMs, 0);
  const parts = steps.map((s) => ({ ...s, gap: false }));
  const rest = durationMs - sum;
  if (rest > 0) {
    const at = steps[0]?.name === 'fetch' ? 1 : 0;
    parts.splice(at, 0, { name: 'in no step', durationMs: rest, gap: true });
  }
  return { parts, total: Math.max(sum, durationMs) || 1 };
}
