// Break-glass pauses on the dashboard: the banner on cluster and app pages, the badge in lists,
// and the operator's buttons (sync, refresh, suspend with reason and duration, resume).
import { useState } from 'preact/hooks';
import { HubCallError, type Suspension } from './api.ts';
import { Badge, Notice } from './components.tsx';
import { when } from './model.ts';
import { useSession } from './session.ts';

/** Who paused, why and until when, in one sentence. */
export function describePause(s: Suspension): string {
  const scope = s.app ? `app ${s.app}` : 'every app of the cluster';
  if (s.source === 'git')
    return `Paused in Git (${s.actor}): ${scope}, until a commit removes suspend: true.`;
  return `Paused by ${s.actor} until ${when(s.until)}: ${scope}. Reason: ${s.reason}`;
}

/** A small badge for lists: paused, and since the hub or Git. */
export function PauseBadge({ s }: { s: Suspension | null | undefined }) {
  if (!s) return null;
  return (
    <Badge
      compact
      info={{
        tone: 'warn',
        symbol: '‖',
        text: s.source === 'git' ? 'Paused in Git' : `Paused until ${when(s.until)}`,
      }}
    />
  );
}

/** The banner of a paused cluster or app: nothing is applied or healed, drift is reported. */
export function PauseBanner({ s }: { s: Suspension | null | undefined }) {
  if (!s) return null;
  return (
    <section class="card suspension-banner" role="status" aria-label="paused">
      <strong>‖ {describePause(s)}</strong>
      <p class="muted small">
        The agent applies and heals nothing here while paused; it still reports drift and new
        commits (as out of sync). The pause ends by itself{s.until ? ` at ${when(s.until)}` : ''}.
      </p>
    </section>
  );
}

/**
 * Sync now, Refresh, Suspend (reason and duration) and Resume for operators, calling the hub
 * API for a cluster or one of its apps. `paused` is the hub pause in force there, if any.
 */
export function OperatorActions(props: {
  cluster: string;
  app?: string;
  connected: boolean;
  paused: Suspension | null | undefined;
}) {
  const { api, can } = useSession();
  const [note, setNote] = useState<{ kind: 'ok' | 'error'; text: string } | undefined>();
  const [form, setForm] = useState(false);
  const [reason, setReason] = useState('');
  const [span, setSpan] = useState('30m');
  if (!can('operator')) return null;
  const base = `/api/v1/clusters/${encodeURIComponent(props.cluster)}`;
  const what = props.app ? `app ${props.app}` : `cluster ${props.cluster}`;
  const body = props.app ? { app: props.app } : {};
  const run = async (action: () => Promise<unknown>, done: string) => {
    try {
      await action();
      setNote({ kind: 'ok', text: done });
      return true;
    } catch (err) {
      setNote({ kind: 'error', text: err instanceof HubCallError ? err.message : String(err) });
      return false;
    }
  };
  const offline = props.connected ? undefined : 'The cluster is not connected';
  const hubPause = props.paused?.source === 'hub';
  return (
    <div class="operator-actions">
      <div class="actions">
        <button
          type="button"
          class="btn"
          disabled={!props.connected}
          title={offline ?? `Ask the agent to sync ${what} now`}
          onClick={() =>
            void run(() => api.post(`${base}/sync`, body), `Sync of ${what} requested.`)
          }
        >
          Sync now
        </button>
        <button
          type="button"
          class="btn"
          disabled={!props.connected}
          title={offline ?? 'Ask the agent to fetch Git now'}
          onClick={() =>
            void run(
              () => api.post(`${base}/refresh`, {}),
              `Refresh of ${props.cluster} requested.`,
            )
          }
        >
          Refresh
        </button>
        {hubPause ? (
          <button
            type="button"
            class="btn"
            onClick={() =>
              void run(
                () => api.post(`${base}/resume`, body),
                `Resumed ${what}: the agent applies and heals again.`,
              )
            }
          >
            Resume
          </button>
        ) : (
          <button type="button" class="btn" aria-expanded={form} onClick={() => setForm(!form)}>
            Suspend…
          </button>
        )}
      </div>
      {form && !hubPause && (
        <form
          class="suspend-form card"
          aria-label={`Suspend ${what}`}
          onSubmit={(e) => {
            e.preventDefault();
            void run(
              () => api.post(`${base}/suspend`, { ...body, for: span, reason }),
              `Paused ${what} for ${span}.`,
            ).then((ok) => ok && setForm(false));
          }}
        >
          <label>
            Reason (required)
            <input
              name="reason"
              required
              value={reason}
              onInput={(e) => setReason((e.target as HTMLInputElement).value)}
            />
          </label>
          <label>
            For
            <select
              name="for"
              value={span}
              onChange={(e) => setSpan((e.target as HTMLSelectElement).value)}
            >
              {['15m', '30m', '1h', '2h', '4h', '8h', '24h'].map((d) => (
                <option key={d} value={d}>
                  {d}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" class="btn primary" disabled={!reason.trim()}>
            Suspend {what}
          </button>
        </form>
      )}
      {note && <Notice kind={note.kind}>{note.text}</Notice>}
    </div>
  );
}
