// Fleet-wide drift: every drifted object with its fields, Git against live, and the
// manager that changed it. Reloads when the hub announces drift.
import { useEffect, useState } from 'preact/hooks';
import { query, type Drift } from '../api.ts';
import { Ago, Badge, DriftFields, Notice, PageHeader, TraceLink } from '../components.tsx';
import { parseSelector, when } from '../model.ts';
import { href, setQuery, useLocation } from '../router.ts';
import { useEventTick, useLoad, useSession } from '../session.ts';

const TYPE_TEXT: Record<string, string> = {
  modified: 'Modified',
  deleted: 'Deleted',
  unknown: 'Changed',
};

/** How a closed drift was closed, as people read it; only `heal` means Driftless wrote. */
const CLOSED_TEXT: Record<string, string> = {
  heal: 'Healed',
  sync: 'Closed by a sync',
  reverted: 'Changed back',
  'left-git': 'Left Git',
  'deleted-by-kubernetes': 'Deleted by Kubernetes',
};

export function DriftPage() {
  const { api } = useSession();
  const loc = useLocation();
  const [state, setState] = useState(loc.query.get('state') ?? 'open');
  const [selector, setSelector] = useState(loc.query.get('selector') ?? '');
  const [cluster, setCluster] = useState(loc.query.get('cluster') ?? '');
  const [app, setApp] = useState(loc.query.get('app') ?? '');
  const tick = useEventTick((e) => e.type === 'drift.updated' || e.type === 'app.updated');

  useEffect(() => {
    setQuery('/drift', { state: state === 'open' ? '' : state, selector, cluster, app });
  }, [state, selector, cluster, app]);

  let selectorError: string | undefined;
  try {
    parseSelector(selector);
  } catch (err) {
    selectorError = (err as Error).message;
  }
  const drift = useLoad(
    () =>
      selectorError
        ? Promise.resolve([] as Drift[])
        : api.list<Drift>(
            '/api/v1/drift' +
              query({ state, selector, cluster: cluster.trim(), app: app.trim(), limit: 500 }),
          ),
    [state, selector, cluster, app, tick],
  );
  const items = drift.value ?? [];

  return (
    <>
      <PageHeader
        title="Drift"
        sub="Objects whose live state differs from Git: which fields, Git against live, and who changed them."
      />
      <section class="filters" aria-label="Filters">
        <div class="field">
          <label for="drift-state">Show</label>
          <select id="drift-state" value={state} onChange={(e) => setState(e.currentTarget.value)}>
            <option value="open">Open drift</option>
            <option value="healed">Healed drift</option>
            <option value="all">All drift</option>
          </select>
        </div>
        <div class="field">
          <label for="drift-selector">Cluster labels</label>
          <input
            id="drift-selector"
            type="text"
            placeholder="env=prod"
            value={selector}
            onInput={(e) => setSelector(e.currentTarget.value)}
            aria-invalid={selectorError ? 'true' : undefined}
            spellcheck={false}
          />
          {selectorError && <span class="field-error">{selectorError}</span>}
        </div>
        <div class="field">
          <label for="drift-cluster">Cluster</label>
          <input
            id="drift-cluster"
            type="text"
            value={cluster}
            onInput={(e) => setCluster(e.currentTarget.value)}
            spellcheck={false}
          />
        </div>
        <div class="field">
          <label for="drift-app">App</label>
          <input
            id="drift-app"
            type="text"
            value={app}
            onInput={(e) => setApp(e.currentTarget.value)}
            spellcheck={false}
          />
        </div>
      </section>
      {drift.error && <Notice kind="error">{drift.error}</Notice>}
      <p class="muted" aria-live="polite">
        {drift.loading && !drift.value
          ? 'Loading…'
          : `${items.length} drifted object${items.length === 1 ? '' : 's'}${items.length === 500 ? ' (the newest 500)' : ''}`}
      </p>
      {drift.value && items.length === 0 && (
        <p class="empty">No drift{state === 'open' ? ' is open' : ''} for these filters.</p>
      )}
      <ul class="drift-list">
        {items.map((d) => (
          <DriftCard key={`${d.cluster}/${d.driftId}`} d={d} />
        ))}
      </ul>
    </>
  );
}

/** One drifted object: where, what, who, when, and the diff. */
export function DriftCard({ d, hideApp }: { d: Drift; hideApp?: boolean }) {
  return (
    <li class="card drift-card" data-drift={d.driftId}>
      <div class="drift-head">
        <Badge
          info={
            d.healed
              ? { tone: 'ok', symbol: '✓', text: CLOSED_TEXT[d.closedBy ?? ''] ?? 'Healed' }
              : d.fight
                ? { tone: 'bad', symbol: '⚔', text: `Fight with ${d.fight.manager}` }
                : { tone: 'warn', symbol: 'Δ', text: TYPE_TEXT[d.type] ?? d.type }
          }
        />
        <code class="object">{d.objectRef}</code>
      </div>
      <dl class="facts">
        {!hideApp && (
          <div>
            <dt>Cluster / app</dt>
            <dd>
              <a href={href('clusters', d.cluster)}>{d.cluster}</a> /{' '}
              <a href={href('apps', d.cluster, d.app)}>{d.app || '—'}</a>
            </dd>
          </div>
        )}
        <div>
          <dt>Changed by</dt>
          <dd class="manager">
            <code>{d.changedBy || 'unknown'}</code>
          </dd>
        </div>
        <div>
          <dt>Detected</dt>
          <dd>
            <Ago iso={d.detectedAt} /> <span class="muted small">{when(d.detectedAt)}</span>
          </dd>
        </div>
        <div>
          <dt>Closed</dt>
          <dd>{d.healed ? <Ago iso={d.healedAt} /> : <span class="muted">not yet</span>}</dd>
        </div>
        {d.lastSyncTraceId && (
          <div>
            <dt>Set by sync</dt>
            <dd>
              <TraceLink traceId={d.lastSyncTraceId} cluster={d.cluster} app={d.app} />
            </dd>
          </div>
        )}
      </dl>
      {d.message && <p class="muted">{d.message}</p>}
      <DriftFields fields={d.fields} />
    </li>
  );
}
