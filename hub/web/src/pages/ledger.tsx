// The drift ledger: over a window, how often the live state left Git, who changed it, how fast
// Driftless saw it and put it back (docs/drift-ledger.md). Charts are plain SVG: three simple
// shapes do not warrant a chart library in the bundle.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { HubCallError, query } from '../api.ts';
import { Notice, PageHeader } from '../components.tsx';
import { duration, parseSelector } from '../model.ts';
import { href, setQuery, useLocation } from '../router.ts';
import { useEventTick, useLoad, useSession } from '../session.ts';
import { Bars, EpisodesChart } from './ledger-charts.tsx';

/** A timing of `GET /api/v1/drift/ledger`. */
interface Dist {
  count: number;
  medianMs: number | null;
  p90Ms: number | null;
}
interface Counts {
  episodes: number;
  healed: number;
  closed: number;
  open: number;
  fights: number;
}
interface Timings {
  timeToDetect: Dist;
  timeToHeal: Dist;
}
/** `GET /api/v1/drift/ledger` (docs/api.md). */
export interface Ledger {
  from: string;
  to: string;
  summary: Counts &
    Timings & {
      byClosedBy: Record<string, number>;
      episodesPerDay: number;
      sampled: number;
      truncated: boolean;
    };
  days: (Counts & { date: string })[];
  healBuckets: { label: string; minMs: number; maxMs: number | null; count: number }[];
  managers: (Counts & Timings & { manager: string; objects: number })[];
  fields: { kind: string; path: string; episodes: number; fights: number; managers: number }[];
  objects: (Counts & {
    cluster: string;
    app: string;
    objectRef: string;
    managers: number;
    lastDetectedAt: string | null;
  })[];
  groups: (Counts & Timings & { cluster: string; app: string; manager: string })[];
}

const DAY_MS = 86_400_000;
const nextDay = (date: string) =>
  new Date(Date.parse(`${date}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);
const dist = (d: Dist | undefined, which: 'medianMs' | 'p90Ms') =>
  d?.[which] === null || d?.[which] === undefined ? '—' : duration(d[which]);
const managerName = (m: string) => m || 'unknown';

export function LedgerPage() {
  const { api } = useSession();
  const loc = useLocation();
  const param = (k: string) => loc.query.get(k) ?? '';
  const [from, setFrom] = useState(param('from'));
  const [to, setTo] = useState(param('to'));
  const [selector, setSelector] = useState(param('selector'));
  const [cluster, setCluster] = useState(param('cluster'));
  const [app, setApp] = useState(param('app'));
  const [manager, setManager] = useState(param('manager'));
  const [csvError, setCsvError] = useState<string | undefined>(undefined);
  const tick = useEventTick((e) => e.type === 'drift.updated', 5_000);

  useEffect(() => {
    setQuery('/ledger', { from, to, selector, cluster, app, manager });
  }, [from, to, selector, cluster, app, manager]);

  let selectorError: string | undefined;
  try {
    parseSelector(selector);
  } catch (err) {
    selectorError = (err as Error).message;
  }
  // The "to" date is inclusive for people: the API's end is the start of the next day.
  const params = {
    from,
    to: to ? nextDay(to) : '',
    selector,
    cluster: cluster.trim(),
    app: app.trim(),
    manager: manager.trim(),
  };
  const ledger = useLoad(
    () =>
      selectorError
        ? Promise.reject(new Error(selectorError))
        : api.get<Ledger>('/api/v1/drift/ledger' + query(params)),
    [from, to, selector, cluster, app, manager, tick],
  );
  const l = ledger.value;

  const downloadCsv = async () => {
    setCsvError(undefined);
    const path = '/api/v1/drift/ledger.csv' + query(params);
    try {
      const res = await fetch(path, {
        headers: { authorization: api.authorization },
        cache: 'no-store',
      });
      if (!res.ok) {
        const body = (await res.json().catch(() => undefined)) as
          { error?: { message?: string } } | undefined;
        throw new HubCallError(res.status, body?.error?.message ?? `HTTP ${res.status}`);
      }
      const name =
        /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ??
        'drift-ledger.csv';
      const url = URL.createObjectURL(await res.blob());
      const a = document.createElement('a');
      a.href = url;
      a.download = name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      setCsvError(`The CSV could not be downloaded: ${(err as Error).message}`);
    }
  };

  return (
    <>
      <PageHeader
        title="Drift ledger"
        sub="Who changes what Git declares, how fast Driftless notices, and how fast it is put back."
        actions={
          <button type="button" class="btn" onClick={() => void downloadCsv()}>
            Download CSV
          </button>
        }
      />
      <section class="filters" aria-label="Filters">
        <div class="field">
          <label for="ledger-from">From</label>
          <input
            id="ledger-from"
            type="date"
            value={from}
            onInput={(e) => setFrom(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="ledger-to">To (inclusive)</label>
          <input
            id="ledger-to"
            type="date"
            value={to}
            onInput={(e) => setTo(e.currentTarget.value)}
          />
        </div>
        <TextFilter id="ledger-selector" label="Cluster labels" value={selector} set={setSelector}>
          {selectorError && <span class="field-error">{selectorError}</span>}
        </TextFilter>
        <TextFilter id="ledger-cluster" label="Cluster" value={cluster} set={setCluster} />
        <TextFilter id="ledger-app" label="App" value={app} set={setApp} />
        <TextFilter id="ledger-manager" label="Field manager" value={manager} set={setManager} />
      </section>
      {ledger.error && <Notice kind="error">{ledger.error}</Notice>}
      {csvError && <Notice kind="error">{csvError}</Notice>}
      {!l && ledger.loading && <p class="muted">Loading…</p>}
      {l && <LedgerBody l={l} pickManager={setManager} />}
    </>
  );
}

function TextFilter(props: {
  id: string;
  label: string;
  value: string;
  set: (v: string) => void;
  children?: ComponentChildren;
}) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        type="text"
        value={props.value}
        onInput={(e) => props.set(e.currentTarget.value)}
        spellcheck={false}
        style={{ width: '180px' }}
      />
      {props.children}
    </div>
  );
}

function LedgerBody({ l, pickManager }: { l: Ledger; pickManager: (m: string) => void }) {
  const s = l.summary;
  return (
    <>
      <p class="muted small">
        {l.from.slice(0, 10)} to {new Date(Date.parse(l.to) - 1).toISOString().slice(0, 10)} (UTC)
        {s.truncated && ` · timings from the newest ${s.sampled} of ${s.episodes} episodes`}
      </p>
      <div class="totals" data-testid="ledger-totals">
        <Total label="Episodes" value={String(s.episodes)} detail={`${s.episodesPerDay} per day`} />
        <Total
          label="Time to detect"
          value={dist(s.timeToDetect, 'medianMs')}
          detail={`median · p90 ${dist(s.timeToDetect, 'p90Ms')}`}
          tone="info"
        />
        <Total
          label="Time to heal"
          value={dist(s.timeToHeal, 'medianMs')}
          detail={`median · p90 ${dist(s.timeToHeal, 'p90Ms')}`}
          tone="ok"
        />
        <Total label="Healed" value={String(s.healed)} detail="by Driftless" tone="ok" />
        <Total
          label="Closed otherwise"
          value={String(s.closed)}
          detail="by a sync, or changed back"
          tone="info"
        />
        <Total label="Open" value={String(s.open)} detail="not back in line yet" tone="warn" />
        <Total label="Fights" value={String(s.fights)} detail="with other controllers" tone="bad" />
      </div>
      <div
        style={{
          display: 'grid',
          gridTemplateColumns: 'repeat(auto-fit, minmax(520px, 1fr))',
          gap: '14px',
        }}
      >
        <ChartCard title="Drift episodes per day" wide>
          <EpisodesChart days={l.days} />
        </ChartCard>
        <ChartCard title="Time to heal">
          <Bars
            label="Time to heal: episodes per duration"
            rows={l.healBuckets.map((b) => ({ key: b.label, label: b.label, parts: [b.count] }))}
            colors={['#17693f']}
          />
        </ChartCard>
        <ChartCard title="Top drifting field managers">
          <Bars
            label="Episodes per field manager"
            rows={l.managers.slice(0, 10).map((m) => ({
              key: m.manager,
              label: managerName(m.manager),
              parts: [m.episodes - m.fights, m.fights],
            }))}
            colors={['#1f3a5f', '#a8201a']}
            onPick={(key) => pickManager(key)}
          />
        </ChartCard>
      </div>
      <Tables l={l} />
    </>
  );
}

function Total(props: {
  label: string;
  value: string;
  detail: string;
  tone?: 'ok' | 'warn' | 'bad' | 'info';
}) {
  return (
    <div class={`total tone-${props.tone ?? 'muted'}`}>
      <span class="total-label">{props.label}</span>
      <span class="total-value">{props.value}</span>
      <span class="total-detail">{props.detail}</span>
    </div>
  );
}

function ChartCard(props: { title: string; wide?: boolean; children: ComponentChildren }) {
  return (
    <section
      class="card"
      aria-label={props.title}
      style={props.wide ? { gridColumn: '1 / -1', margin: 0 } : { margin: 0 }}
    >
      <h2 style={{ fontSize: '15px', margin: '0 0 10px' }}>{props.title}</h2>
      {props.children}
    </section>
  );
}

function Tables({ l }: { l: Ledger }) {
  return (
    <>
      <h2>Field managers</h2>
      <div class="table-wrap">
        <table class="list" data-table="managers">
          <thead>
            <tr>
              <th scope="col">Manager</th>
              <th scope="col">Episodes</th>
              <th scope="col">Fights</th>
              <th scope="col">Objects</th>
              <th scope="col">Detect median / p90</th>
              <th scope="col">Heal median / p90</th>
            </tr>
          </thead>
          <tbody>
            {l.managers.map((m) => (
              <tr key={m.manager}>
                <th scope="row">
                  <code>{managerName(m.manager)}</code>
                </th>
                <td class="num">{m.episodes}</td>
                <td class="num">{m.fights}</td>
                <td class="num">{m.objects}</td>
                <td class="num">
                  {dist(m.timeToDetect, 'medianMs')} / {dist(m.timeToDetect, 'p90Ms')}
                </td>
                <td class="num">
                  {dist(m.timeToHeal, 'medianMs')} / {dist(m.timeToHeal, 'p90Ms')}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>By cluster, app and field manager</h2>
      <div class="table-wrap">
        <table class="list" data-table="groups">
          <thead>
            <tr>
              <th scope="col">Cluster / app</th>
              <th scope="col">Manager</th>
              <th scope="col">Episodes</th>
              <th scope="col">Healed</th>
              <th scope="col">Fights</th>
              <th scope="col">Detect median / p90</th>
              <th scope="col">Heal median / p90</th>
            </tr>
          </thead>
          <tbody>
            {l.groups.map((g) => (
              <tr key={`${g.cluster} ${g.app} ${g.manager}`}>
                <th scope="row">
                  <a href={href('apps', g.cluster, g.app)}>
                    {g.cluster} / {g.app}
                  </a>
                </th>
                <td>
                  <code>{managerName(g.manager)}</code>
                </td>
                <td class="num">{g.episodes}</td>
                <td class="num">{g.healed}</td>
                <td class="num">{g.fights}</td>
                <td class="num">
                  {dist(g.timeToDetect, 'medianMs')} / {dist(g.timeToDetect, 'p90Ms')}
                </td>
                <td class="num">
                  {dist(g.timeToHeal, 'medianMs')} / {dist(g.timeToHeal, 'p90Ms')}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>Fields that drift most</h2>
      <div class="table-wrap">
        <table class="list" data-table="fields">
          <thead>
            <tr>
              <th scope="col">Kind</th>
              <th scope="col">Field</th>
              <th scope="col">Episodes</th>
              <th scope="col">Fights</th>
              <th scope="col">Managers</th>
            </tr>
          </thead>
          <tbody>
            {l.fields.map((f) => (
              <tr key={`${f.kind} ${f.path}`}>
                <td>{f.kind}</td>
                <th scope="row">
                  <code>{f.path}</code>
                </th>
                <td class="num">{f.episodes}</td>
                <td class="num">{f.fights}</td>
                <td class="num">{f.managers}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>Objects that drift again and again</h2>
      {l.objects.length === 0 ? (
        <p class="empty">No object drifted more than once in this window.</p>
      ) : (
        <div class="table-wrap">
          <table class="list" data-table="objects">
            <thead>
              <tr>
                <th scope="col">Object</th>
                <th scope="col">Cluster / app</th>
                <th scope="col">Episodes</th>
                <th scope="col">Fights</th>
                <th scope="col">Managers</th>
                <th scope="col">Last</th>
              </tr>
            </thead>
            <tbody>
              {l.objects.map((o) => (
                <tr key={`${o.cluster} ${o.app} ${o.objectRef}`}>
                  <th scope="row">
                    <code>{o.objectRef}</code>
                  </th>
                  <td>
                    <a href={href('apps', o.cluster, o.app)}>
                      {o.cluster} / {o.app}
                    </a>
                  </td>
                  <td class="num">{o.episodes}</td>
                  <td class="num">{o.fights}</td>
                  <td class="num">{o.managers}</td>
                  <td>{o.lastDetectedAt?.replace('T', ' ').slice(0, 19) ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
