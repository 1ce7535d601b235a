// The fleet overview: totals, filters, and the clusters × apps matrix. Only the rows in
// view are rendered, so 1,000 clusters × 20 apps scroll as smoothly as ten.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { App, Cluster } from '../api.ts';
import { Badge, LabelChips, Notice, PageHeader } from '../components.tsx';
import {
  appTone,
  asLastReported,
  describeApp,
  isReporting,
  driftInfo,
  HEALTH,
  matchesSelector,
  parseSelector,
  passesStates,
  STATE_FILTERS,
  SYNC,
  totals,
  type StateFilter,
} from '../model.ts';
import { href, setQuery, useLocation } from '../router.ts';
import { useFleet } from '../session.ts';

const ROW_HEIGHT = 68;
/** The order of String.localeCompare, without building a collator on every comparison. */
const byName = new Intl.Collator().compare;
const OVERSCAN = 6;

export function Overview() {
  const fleet = useFleet();
  const loc = useLocation();
  const [selector, setSelector] = useState(loc.query.get('selector') ?? '');
  const [search, setSearch] = useState(loc.query.get('q') ?? '');
  const [states, setStates] = useState<StateFilter[]>(
    (loc.query.get('state') ?? '').split(',').filter((s): s is StateFilter => s in STATE_FILTERS),
  );

  useEffect(() => {
    setQuery('/', { selector, q: search, state: states.join(',') });
  }, [selector, search, states]);

  let selectorError: string | undefined;
  let terms: ReturnType<typeof parseSelector> = [];
  try {
    terms = parseSelector(selector);
  } catch (err) {
    selectorError = (err as Error).message;
  }

  const all = fleet.clusters.sort((a, b) => byName(a.name, b.name));
  const byLabel = all.filter(
    (c) => matchesSelector(c.labels, terms) && (!search || c.name.includes(search.trim())),
  );
  const rows = states.length
    ? byLabel.filter((c) => fleet.appsOf(c.name).some((a) => !a.gone && passesStates(a, states)))
    : byLabel;
  const t = totals(byLabel, (c) => fleet.appsOf(c));
  const toggle = (s: StateFilter) =>
    setStates((cur) => (cur.includes(s) ? cur.filter((x) => x !== s) : [...cur, s]));

  return (
    <>
      <PageHeader
        title="Fleet"
        sub={
          fleet.loaded
            ? `${t.clusters} clusters · ${t.apps} apps${terms.length || search ? ' (filtered)' : ''}${fleet.complete ? '' : ' · loading…'}`
            : 'Loading…'
        }
        actions={
          <button type="button" class="btn" onClick={() => void fleet.reload()}>
            Refresh
          </button>
        }
      />
      <section class="totals" aria-label="Totals">
        <Total
          label="Clusters connected"
          value={`${t.connected} / ${t.clusters}`}
          tone={t.connected < t.clusters ? 'warn' : 'ok'}
        />
        <Total
          label="Apps synced"
          value={`${t.synced} / ${t.apps}`}
          tone="ok"
          {...(t.notReporting ? { detail: `${t.notReporting} not reporting` } : {})}
        />
        <Total
          label="Out of sync"
          value={t.outOfSync}
          tone={t.outOfSync ? 'warn' : 'muted'}
          pressed={states.includes('out-of-sync')}
          onClick={() => toggle('out-of-sync')}
        />
        <Total
          label="Failed"
          value={t.failed}
          tone={t.failed ? 'bad' : 'muted'}
          pressed={states.includes('failed')}
          onClick={() => toggle('failed')}
        />
        <Total
          label="Config failed"
          value={t.configFailed}
          detail="clusters"
          tone={t.configFailed ? 'bad' : 'muted'}
        />
        <Total
          label="Degraded"
          value={t.degraded}
          tone={t.degraded ? 'bad' : 'muted'}
          pressed={states.includes('degraded')}
          onClick={() => toggle('degraded')}
        />
        <Total
          label="Drifted apps"
          value={t.driftedApps}
          detail={`${t.driftedObjects} objects`}
          tone={t.driftedApps ? 'warn' : 'muted'}
          pressed={states.includes('drifted')}
          onClick={() => toggle('drifted')}
        />
        <Total
          label="Awaiting approval"
          value={t.awaitingApproval}
          tone={t.awaitingApproval ? 'info' : 'muted'}
          link={href('approvals')}
        />
      </section>

      <section class="filters" aria-label="Filters">
        <div class="field">
          <label for="selector">Cluster labels</label>
          <input
            id="selector"
            type="text"
            placeholder="env=prod,region!=eu"
            value={selector}
            onInput={(e) => setSelector(e.currentTarget.value)}
            aria-invalid={selectorError ? 'true' : undefined}
            aria-describedby="selector-help"
            spellcheck={false}
          />
          <span id="selector-help" class={selectorError ? 'field-error' : 'field-help'}>
            {selectorError ?? 'key=value, key!=value, key or !key; comma means and'}
          </span>
        </div>
        <div class="field">
          <label for="search">Cluster name</label>
          <input
            id="search"
            type="search"
            placeholder="contains…"
            value={search}
            onInput={(e) => setSearch(e.currentTarget.value)}
            spellcheck={false}
          />
        </div>
        <fieldset class="field states">
          <legend>State</legend>
          <div class="toggles">
            {(Object.keys(STATE_FILTERS) as StateFilter[]).map((s) => (
              <button
                key={s}
                type="button"
                class="toggle"
                aria-pressed={states.includes(s)}
                onClick={() => toggle(s)}
              >
                {STATE_FILTERS[s].label}
              </button>
            ))}
            {states.length > 0 && (
              <button type="button" class="btn small ghost" onClick={() => setStates([])}>
                Clear
              </button>
            )}
          </div>
        </fieldset>
      </section>

      {fleet.loaded && all.length === 0 && (
        <Notice kind="info">
          No cluster has enrolled yet. Create an enrollment token on the{' '}
          <a href={href('tokens')}>Enrollment</a> page and install the agent with it.
        </Notice>
      )}
      {fleet.loaded && all.length > 0 && (
        <Matrix
          clusters={rows}
          appNames={fleet.appNames}
          appsOf={(c) => fleet.appsOf(c)}
          states={states}
        />
      )}
    </>
  );
}

function Total(props: {
  label: string;
  value: number | string;
  detail?: string;
  tone: string;
  pressed?: boolean;
  onClick?: () => void;
  link?: string;
}) {
  const body = (
    <>
      <span class="total-value">{props.value}</span>
      <span class="total-label">{props.label}</span>
      {props.detail && <span class="total-detail">{props.detail}</span>}
    </>
  );
  if (props.link)
    return (
      <a class={`total tone-${props.tone}`} href={props.link}>
        {body}
      </a>
    );
  if (props.onClick)
    return (
      <button
        type="button"
        class={`total tone-${props.tone}`}
        aria-pressed={props.pressed}
        onClick={props.onClick}
        title={`Show only clusters with ${props.label.toLowerCase()} apps`}
      >
        {body}
      </button>
    );
  return <div class={`total tone-${props.tone}`}>{body}</div>;
}

function Matrix(props: {
  clusters: Cluster[];
  appNames: string[];
  appsOf: (cluster: string) => App[];
  states: StateFilter[];
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const measure = () => setHeight(el.clientHeight);
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const n = props.clusters.length;
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(n, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  const visible = props.clusters.slice(first, last);

  return (
    <section aria-label="Clusters and apps">
      <p class="matrix-caption muted" id="matrix-caption">
        {n} cluster{n === 1 ? '' : 's'} × {props.appNames.length} app
        {props.appNames.length === 1 ? '' : 's'}. Each cell: sync status, health and drift; open it
        for details.
      </p>
      <div
        class="matrix-scroll"
        ref={scroller}
        onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
        tabIndex={0}
        aria-labelledby="matrix-caption"
      >
        <table class="matrix" aria-rowcount={n + 1} aria-describedby="matrix-caption">
          <thead>
            <tr aria-rowindex={1}>
              <th scope="col" class="corner">
                Cluster
              </th>
              {props.appNames.map((a) => (
                <th scope="col" key={a}>
                  {a}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {first > 0 && (
              <tr class="spacer" aria-hidden="true">
                <td
                  colSpan={props.appNames.length + 1}
                  style={{ height: `${first * ROW_HEIGHT}px` }}
                />
              </tr>
            )}
            {visible.map((c, i) => (
              <Row
                key={c.name}
                index={first + i + 2}
                cluster={c}
                appNames={props.appNames}
                apps={props.appsOf(c.name)}
                states={props.states}
              />
            ))}
            {last < n && (
              <tr class="spacer" aria-hidden="true">
                <td
                  colSpan={props.appNames.length + 1}
                  style={{ height: `${(n - last) * ROW_HEIGHT}px` }}
                />
              </tr>
            )}
          </tbody>
        </table>
        {n === 0 && <p class="empty">No cluster matches these filters.</p>}
      </div>
    </section>
  );
}

function Row(props: {
  index: number;
  cluster: Cluster;
  appNames: string[];
  apps: App[];
  states: StateFilter[];
}) {
  const { cluster: c } = props;
  const byName = new Map(props.apps.filter((a) => !a.gone).map((a) => [a.app, a]));
  const reporting = isReporting(c);
  return (
    <tr aria-rowindex={props.index} data-cluster={c.name}>
      <th scope="row" class="cluster-cell">
        <a href={href('clusters', c.name)} class="cluster-name">
          <span
            class={`conn ${c.revoked ? 'revoked' : c.connected ? 'on' : 'off'}`}
            title={c.revoked ? 'revoked' : c.connected ? 'connected' : 'not connected'}
            aria-hidden="true"
          />
          {c.name}
          <span class="visually-hidden">
            {c.revoked ? ' (revoked)' : c.connected ? ' (connected)' : ' (not connected)'}
          </span>
        </a>
        <span class="cluster-labels">
          <LabelChips labels={c.labels} />
        </span>
      </th>
      {props.appNames.map((name) => {
        const a = byName.get(name);
        if (!a)
          return (
            <td key={name} class="cell-empty">
              <span aria-label={`${name} is not deployed on ${c.name}`}>—</span>
            </td>
          );
        const dim = !passesStates(a, props.states);
        return (
          <td key={name} class={dim ? 'dim' : ''}>
            <a
              href={href('apps', c.name, name)}
              class={`cell tone-${appTone(a, reporting)}`}
              aria-label={describeApp(a, c)}
              title={describeApp(a, c)}
              data-app={name}
              data-sync={a.syncStatus}
              data-health={a.health}
              data-drift={a.driftCount}
              data-reporting={String(reporting)}
            >
              <Badge info={asLastReported(SYNC[a.syncStatus], reporting)} compact />
              <Badge info={asLastReported(HEALTH[a.health], reporting)} compact />
              {a.driftCount > 0 && <Badge info={driftInfo(a.driftCount)} compact />}
            </a>
          </td>
        );
      })}
    </tr>
  );
}
