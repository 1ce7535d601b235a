// Notifications: where events go (destinations), which events go where (rules), and the
// delivery log. Everyone sees them; admins create and delete. Secrets go in once and are
// never shown: a destination shows only its kind and host.
import { useState } from 'preact/hooks';
import { HubCallError } from '../api.ts';
import { Ago, Notice, PageHeader } from '../components.tsx';
import { useLoad, useSession } from '../session.ts';

/** A destination as the API shows it. */
interface Destination {
  name: string;
  kind: string;
  config: Record<string, string>;
  hasSecret: boolean;
  host: string;
  createdBy: string;
}

/** A rule as the API shows it. */
interface Rule {
  id: string;
  destination: string;
  events: string[];
  selector: string;
  apps: string[];
  minSeverity: string;
  rateLimit: { max: number; windowSeconds: number };
}

/** A delivery log entry. */
interface Delivery {
  id: number;
  rule: string;
  destination: string;
  status: 'pending' | 'sent' | 'failed' | 'held';
  kind: string;
  title: string;
  attempts: { at: string | null; outcome: string; error: string; answer: string }[];
  lastError: string;
  /** What the destination answered; the API gives it to admins only. */
  lastAnswer: string;
  createdAt: string | null;
}

const STATUS_TONE: Record<Delivery['status'], string> = {
  sent: 'ok',
  pending: 'info',
  held: 'muted',
  failed: 'bad',
};

/** Which secret field each kind's URL goes in; Alertmanager's URL is not secret. */
const URL_FIELD: Record<string, [part: 'config' | 'secret', field: string, label: string]> = {
  slack: ['secret', 'webhookUrl', 'Incoming webhook URL'],
  teams: ['secret', 'webhookUrl', 'Workflow URL'],
  webhook: ['secret', 'url', 'Webhook URL'],
  alertmanager: ['config', 'url', 'Alertmanager URL'],
};

const errorText = (err: unknown) => (err instanceof HubCallError ? err.message : String(err));

export function NotificationsPage() {
  const { api, can } = useSession();
  const admin = can('admin');
  const [nonce, setNonce] = useState(0);
  const destinations = useLoad(
    () => api.list<Destination>('/api/v1/notifications/destinations'),
    [nonce],
  );
  const rules = useLoad(() => api.list<Rule>('/api/v1/notifications/rules'), [nonce]);
  const deliveries = useLoad(
    () => api.list<Delivery>('/api/v1/notifications/deliveries?limit=100'),
    [nonce],
  );
  const reload = () => setNonce((n) => n + 1);
  const [done, setDone] = useState<{ kind: 'ok' | 'error'; text: string } | undefined>();
  const act = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
      setDone({ kind: 'ok', text: what });
      reload();
    } catch (err) {
      setDone({ kind: 'error', text: errorText(err) });
    }
  };

  return (
    <>
      <PageHeader
        title="Notifications"
        sub="Sync results, health, drift, approvals and disconnected clusters, sent to Slack, Teams, webhooks and Alertmanager by rules."
        actions={
          <button type="button" class="btn small" onClick={reload}>
            Refresh
          </button>
        }
      />
      {done && <Notice kind={done.kind}>{done.text}</Notice>}

      <h2>Destinations</h2>
      {destinations.error && <Notice kind="error">{destinations.error}</Notice>}
      <div class="table-wrap">
        <table class="list notify-destinations">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Host</th>
              <th scope="col">Settings</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(destinations.value ?? []).map((d) => (
              <tr key={d.name} data-destination={d.name}>
                <td>{d.name}</td>
                <td>{d.kind}</td>
                <td>{d.host || '—'}</td>
                <td>
                  {Object.entries(d.config)
                    .map(([k, v]) => `${k}=${v}`)
                    .join(', ') || '—'}
                  {d.hasSecret && <span class="muted"> (secret set)</span>}
                </td>
                <td>
                  {admin && (
                    <>
                      <button
                        type="button"
                        class="btn small"
                        onClick={() =>
                          void act(`Test notification sent to ${d.name}.`, async () => {
                            const r = await api.post<{ sent: boolean; error: string }>(
                              `/api/v1/notifications/destinations/${encodeURIComponent(d.name)}/test`,
                            );
                            if (!r.sent) throw new Error(r.error);
                          })
                        }
                      >
                        Test
                      </button>{' '}
                      <button
                        type="button"
                        class="btn small danger"
                        aria-label={`Delete destination ${d.name}`}
                        onClick={() =>
                          void act(`Destination ${d.name} and its rules deleted.`, () =>
                            api.call(
                              'DELETE',
                              `/api/v1/notifications/destinations/${encodeURIComponent(d.name)}`,
                            ),
                          )
                        }
                      >
                        Delete
                      </button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {admin && <DestinationForm onCreated={(t) => void act(t, async () => undefined)} />}

      <h2>Rules</h2>
      {rules.error && <Notice kind="error">{rules.error}</Notice>}
      <div class="table-wrap">
        <table class="list notify-rules">
          <thead>
            <tr>
              <th scope="col">Rule</th>
              <th scope="col">Destination</th>
              <th scope="col">Events</th>
              <th scope="col">Clusters</th>
              <th scope="col">Apps</th>
              <th scope="col">Min severity</th>
              <th scope="col">Rate limit</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {(rules.value ?? []).map((r) => (
              <tr key={r.id} data-rule={r.id}>
                <td>{r.id}</td>
                <td>{r.destination}</td>
                <td>{r.events.join(', ') || 'all'}</td>
                <td>{r.selector || 'all'}</td>
                <td>{r.apps.join(', ') || 'all'}</td>
                <td>{r.minSeverity}</td>
                <td>
                  {r.rateLimit.max
                    ? `${r.rateLimit.max} per ${r.rateLimit.windowSeconds} s`
                    : 'none'}
                </td>
                <td>
                  {admin && (
                    <button
                      type="button"
                      class="btn small danger"
                      aria-label={`Delete rule ${r.id}`}
                      onClick={() =>
                        void act(`Rule ${r.id} deleted.`, () =>
                          api.call(
                            'DELETE',
                            `/api/v1/notifications/rules/${encodeURIComponent(r.id)}`,
                          ),
                        )
                      }
                    >
                      Delete
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {admin && (
        <RuleForm
          destinations={(destinations.value ?? []).map((d) => d.name)}
          onCreated={(t) => void act(t, async () => undefined)}
        />
      )}

      <h2>Delivery log</h2>
      {deliveries.error && <Notice kind="error">{deliveries.error}</Notice>}
      <div class="table-wrap">
        <table class="list notify-deliveries">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Destination</th>
              <th scope="col">Status</th>
              <th scope="col">Event</th>
              <th scope="col">Attempts</th>
            </tr>
          </thead>
          <tbody>
            {(deliveries.value ?? []).map((d) => (
              <tr key={d.id} data-delivery={d.id}>
                <td>
                  <Ago iso={d.createdAt} />
                </td>
                <td>{d.destination}</td>
                <td>
                  <span class={`badge tone-${STATUS_TONE[d.status]}`}>{d.status}</span>
                </td>
                <td>
                  <span class="muted">{d.kind}</span> {d.title}
                </td>
                <td>
                  {d.attempts.length}
                  {d.lastError && <div class="muted">{d.lastError}</div>}
                  {d.lastAnswer && <div class="muted">answered: {d.lastAnswer}</div>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

/** Creates a destination: its URL (secret unless Alertmanager), Slack channel, HMAC key. */
function DestinationForm(props: { onCreated(text: string): void }) {
  const { api } = useSession();
  const [form, setForm] = useState({ name: '', kind: 'slack', url: '', hmacKey: '' });
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof form) => (e: { currentTarget: { value: string } }) =>
    setForm((f) => ({ ...f, [k]: e.currentTarget.value }));
  const [part, field, label] = URL_FIELD[form.kind] ?? ['secret', 'url', 'URL'];
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const config: Record<string, string> = {};
    const secret: Record<string, string> = {};
    (part === 'config' ? config : secret)[field] = form.url.trim();
    if (form.kind === 'webhook' && form.hmacKey) secret['hmacKey'] = form.hmacKey;
    try {
      await api.post('/api/v1/notifications/destinations', {
        name: form.name.trim(),
        kind: form.kind,
        config,
        secret,
      });
      setForm({ name: '', kind: form.kind, url: '', hmacKey: '' });
      props.onCreated(`Destination ${form.name.trim()} created.`);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card" onSubmit={(e) => void submit(e)} aria-labelledby="nd-title">
      <h3 id="nd-title">New destination</h3>
      {error && <Notice kind="error">{error}</Notice>}
      <div class="form-grid">
        <div class="field">
          <label for="nd-name">Name</label>
          <input id="nd-name" required value={form.name} onInput={set('name')} spellcheck={false} />
        </div>
        <div class="field">
          <label for="nd-kind">Kind</label>
          <select id="nd-kind" value={form.kind} onChange={set('kind')}>
            <option value="slack">Slack (incoming webhook)</option>
            <option value="teams">Microsoft Teams (workflow)</option>
            <option value="webhook">Generic webhook</option>
            <option value="alertmanager">Alertmanager</option>
          </select>
        </div>
        <div class="field">
          <label for="nd-url">{label}</label>
          <input
            id="nd-url"
            type="password"
            autocomplete="off"
            required
            value={form.url}
            onInput={set('url')}
            spellcheck={false}
          />
          {part === 'secret' && (
            <span class="field-help">Stored encrypted; never shown again.</span>
          )}
        </div>
        {form.kind === 'webhook' && (
          <div class="field">
            <label for="nd-hmac">Signing key (optional)</label>
            <input
              id="nd-hmac"
              type="password"
              autocomplete="off"
              value={form.hmacKey}
              onInput={set('hmacKey')}
            />
          </div>
        )}
      </div>
      <button type="submit" class="btn primary" disabled={busy}>
        {busy ? 'Creating…' : 'Create destination'}
      </button>
    </form>
  );
}

/** Creates a rule: events, cluster selector, apps, minimum severity, rate limit. */
function RuleForm(props: { destinations: string[]; onCreated(text: string): void }) {
  const { api } = useSession();
  const [form, setForm] = useState({
    destination: '',
    events: '',
    selector: '',
    apps: '',
    minSeverity: 'warning',
    max: '20',
    window: '600',
  });
  const [error, setError] = useState<string | undefined>();
  const set = (k: keyof typeof form) => (e: { currentTarget: { value: string } }) =>
    setForm((f) => ({ ...f, [k]: e.currentTarget.value }));
  const list = (s: string) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      const r = await api.post<Rule>('/api/v1/notifications/rules', {
        destination: form.destination || props.destinations[0],
        events: list(form.events),
        selector: form.selector.trim(),
        apps: list(form.apps),
        minSeverity: form.minSeverity,
        rateLimit: { max: Number(form.max), windowSeconds: Number(form.window) },
      });
      props.onCreated(`Rule ${r.id} created.`);
    } catch (err) {
      setError(errorText(err));
    }
  };
  if (props.destinations.length === 0) return null;
  return (
    <form class="card" onSubmit={(e) => void submit(e)} aria-labelledby="nr-title">
      <h3 id="nr-title">New rule</h3>
      {error && <Notice kind="error">{error}</Notice>}
      <div class="form-grid">
        <div class="field">
          <label for="nr-dest">Destination</label>
          <select id="nr-dest" value={form.destination} onChange={set('destination')}>
            {props.destinations.map((d) => (
              <option key={d} value={d}>
                {d}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="nr-events">Events</label>
          <input
            id="nr-events"
            value={form.events}
            onInput={set('events')}
            placeholder="sync.failed,health.degraded (empty: all)"
            spellcheck={false}
          />
        </div>
        <div class="field">
          <label for="nr-sel">Cluster selector</label>
          <input
            id="nr-sel"
            value={form.selector}
            onInput={set('selector')}
            placeholder="env=prod"
            spellcheck={false}
          />
        </div>
        <div class="field">
          <label for="nr-apps">Apps</label>
          <input id="nr-apps" value={form.apps} onInput={set('apps')} placeholder="(empty: all)" />
        </div>
        <div class="field">
          <label for="nr-sev">Minimum severity</label>
          <select id="nr-sev" value={form.minSeverity} onChange={set('minSeverity')}>
            <option value="info">info</option>
            <option value="warning">warning</option>
            <option value="error">error</option>
          </select>
        </div>
        <div class="field">
          <label for="nr-max">At most (messages)</label>
          <input id="nr-max" type="number" min={0} value={form.max} onInput={set('max')} />
        </div>
        <div class="field">
          <label for="nr-window">per (seconds)</label>
          <input id="nr-window" type="number" min={1} value={form.window} onInput={set('window')} />
        </div>
      </div>
      <button type="submit" class="btn primary">
        Create rule
      </button>
    </form>
  );
}
