// Enrollment (admin): create a token — shown once, with the exact commands that install
// the agent with it — list and revoke tokens, and revoke enrolled clusters.
import { useState } from 'preact/hooks';
import { HubCallError, type EnrollmentToken } from '../api.ts';
import { Ago, Badge, CopyBox, LabelChips, Notice, PageHeader } from '../components.tsx';
import { when, type StateInfo } from '../model.ts';
import { href } from '../router.ts';
import { useEventTick, useFleet, useLoad, useSession } from '../session.ts';

const STATE: Record<EnrollmentToken['state'], StateInfo> = {
  active: { tone: 'ok', symbol: '●', text: 'Active' },
  used: { tone: 'muted', symbol: '✓', text: 'Used' },
  expired: { tone: 'muted', symbol: '⌛', text: 'Expired' },
  revoked: { tone: 'bad', symbol: '⊘', text: 'Revoked' },
};

/** Quotes a value for a POSIX shell when it needs it. */
const sh = (v: string) =>
  /^[A-Za-z0-9_./:@%+=,-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;

/**
 * The commands that install an agent with this token: the Helm chart (charts/agent, whose
 * values map one to one to the agent's flags) or the agent binary. Both expect the hub's
 * CA certificate in ./ca.crt; the token goes into a Secret or the environment, never a flag.
 */
export function installCommands(o: {
  hub: string;
  cluster: string;
  repoUrl: string;
  branch: string;
  token: string;
}): { helm: string; run: string } {
  const repo = o.repoUrl || 'https://git.example.com/platform/fleet.git';
  const branch = o.branch || 'main';
  const helm = [
    'kubectl create namespace driftless-system',
    'kubectl -n driftless-system create secret generic driftless-hub-ca --from-file=ca.crt=ca.crt',
    `kubectl -n driftless-system create secret generic driftless-enrollment --from-literal=token=${sh(o.token)}`,
    [
      'helm upgrade --install driftless-agent charts/agent --namespace driftless-system',
      `  --set clusterName=${sh(o.cluster)}`,
      `  --set repoUrl=${sh(repo)}`,
      `  --set branch=${sh(branch)}`,
      `  --set hubAddress=${sh(o.hub)}`,
      '  --set hubCa.existingSecret=driftless-hub-ca',
      '  --set enrollmentToken.existingSecret=driftless-enrollment',
    ].join(' \\\n'),
  ].join('\n');
  const run = [
    `DRIFTLESS_ENROLLMENT_TOKEN=${sh(o.token)} driftless-agent run`,
    `  --cluster-name ${sh(o.cluster)}`,
    `  --repo-url ${sh(repo)}`,
    `  --branch ${sh(branch)}`,
    `  --hub-address ${sh(o.hub)}`,
    '  --hub-ca-file ca.crt',
  ].join(' \\\n');
  return { helm, run };
}

/** A link that saves the hub CA certificate as ca.crt. */
function CaDownload({ pem }: { pem: string }) {
  const [url] = useState(() =>
    URL.createObjectURL(new Blob([pem], { type: 'application/x-pem-file' })),
  );
  return (
    <a class="btn small" href={url} download="ca.crt">
      Download ca.crt
    </a>
  );
}

/** A Revoke button that asks for confirmation in place before it acts. */
function RevokeButton(p: {
  /** What is revoked, for screen readers: "token abc for dev". */
  label: string;
  confirming: boolean;
  onAsk: () => void;
  onCancel: () => void;
  onConfirm: () => void;
}) {
  if (!p.confirming) {
    return (
      <button type="button" class="btn small" onClick={p.onAsk} aria-label={`Revoke ${p.label}`}>
        Revoke
      </button>
    );
  }
  return (
    <>
      <button type="button" class="btn small danger" onClick={p.onConfirm}>
        Confirm revoke
      </button>{' '}
      <button type="button" class="btn small ghost" onClick={p.onCancel}>
        Cancel
      </button>
    </>
  );
}

export function TokensPage() {
  const { api, config } = useSession();
  const fleet = useFleet();
  const tick = useEventTick((e) => e.type.startsWith('token.') || e.type === 'cluster.enrolled');
  const tokens = useLoad(() => api.list<EnrollmentToken>('/api/v1/tokens'), [tick]);
  const [created, setCreated] = useState<
    { token: EnrollmentToken; repoUrl: string; branch: string } | undefined
  >();
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [form, setForm] = useState({
    cluster: '',
    labels: '',
    ttl: '1h',
    uses: '1',
    repoUrl: '',
    branch: 'main',
  });
  const [confirm, setConfirm] = useState<string | undefined>(undefined);
  const [done, setDone] = useState<{ kind: 'ok' | 'error'; text: string } | undefined>();
  const set = (k: keyof typeof form) => (e: { currentTarget: { value: string } }) =>
    setForm((f) => ({ ...f, [k]: e.currentTarget.value }));

  const create = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const t = await api.post<EnrollmentToken>('/api/v1/tokens', {
        cluster: form.cluster.trim(),
        labels: form.labels.trim(),
        ttl: form.ttl,
        uses: Number(form.uses),
      });
      setCreated({ token: t, repoUrl: form.repoUrl.trim(), branch: form.branch.trim() });
      tokens.reload();
    } catch (err) {
      setError(err instanceof HubCallError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (path: string, what: string) => {
    setConfirm(undefined);
    try {
      await api.post(path);
      setDone({ kind: 'ok', text: `${what} was revoked.` });
      tokens.reload();
      void fleet.reload();
    } catch (err) {
      setDone({ kind: 'error', text: err instanceof HubCallError ? err.message : String(err) });
    }
  };
  const list = [...(tokens.value ?? [])].sort((a, b) =>
    (b.createdAt ?? '').localeCompare(a.createdAt ?? ''),
  );
  const clusters = fleet.clusters.sort((a, b) => a.name.localeCompare(b.name));

  return (
    <>
      <PageHeader
        title="Enrollment"
        sub="A cluster joins with a short-lived, single-use token bound to its name; the agent makes its own key and the hub signs its certificate."
      />

      {created?.token.token ? (
        <section class="card token-once" aria-labelledby="once-title">
          <h2 id="once-title">Token for {created.token.cluster} created</h2>
          <Notice kind="info">
            Copy it now: this is the only time the hub shows it. It expires{' '}
            {when(created.token.expiresAt)} and works {created.token.maxUses} time
            {created.token.maxUses === 1 ? '' : 's'}.
          </Notice>
          <CopyBox label="Enrollment token" text={created.token.token} />
          <p>
            Both commands expect the hub&apos;s CA certificate in <code>ca.crt</code>:{' '}
            <CaDownload pem={config.hubCaPem} />
          </p>
          <h3>Install the agent with Helm</h3>
          <CopyBox
            label="helm command"
            text={
              installCommands({
                hub: config.agentHubAddress,
                cluster: created.token.cluster,
                repoUrl: created.repoUrl,
                branch: created.branch,
                token: created.token.token,
              }).helm
            }
          />
          <h3>Or run the agent binary</h3>
          <CopyBox
            label="driftless-agent command"
            text={
              installCommands({
                hub: config.agentHubAddress,
                cluster: created.token.cluster,
                repoUrl: created.repoUrl,
                branch: created.branch,
                token: created.token.token,
              }).run
            }
          />
          <button type="button" class="btn primary" onClick={() => setCreated(undefined)}>
            Done, I have copied it
          </button>
        </section>
      ) : (
        <form class="card token-form" onSubmit={(e) => void create(e)} aria-labelledby="new-title">
          <h2 id="new-title">New enrollment token</h2>
          {error && <Notice kind="error">{error}</Notice>}
          <div class="form-grid">
            <div class="field">
              <label for="t-cluster">Cluster name</label>
              <input
                id="t-cluster"
                required
                pattern="[a-z0-9]([a-z0-9-]*[a-z0-9])?"
                value={form.cluster}
                onInput={set('cluster')}
                placeholder="prod-eu"
                spellcheck={false}
              />
              <span class="field-help">A DNS label; the token enrolls only this name.</span>
            </div>
            <div class="field">
              <label for="t-labels">Labels</label>
              <input
                id="t-labels"
                value={form.labels}
                onInput={set('labels')}
                placeholder="env=prod,region=eu"
                spellcheck={false}
              />
              <span class="field-help">Override the labels the agent reports.</span>
            </div>
            <div class="field">
              <label for="t-ttl">Valid for</label>
              <select id="t-ttl" value={form.ttl} onChange={set('ttl')}>
                <option value="15m">15 minutes</option>
                <option value="1h">1 hour</option>
                <option value="24h">24 hours</option>
                <option value="168h">7 days</option>
              </select>
            </div>
            <div class="field">
              <label for="t-uses">Uses</label>
              <input
                id="t-uses"
                type="number"
                min={1}
                max={1000}
                value={form.uses}
                onInput={set('uses')}
              />
            </div>
            <div class="field">
              <label for="t-repo">Repository URL (for the command)</label>
              <input
                id="t-repo"
                type="url"
                value={form.repoUrl}
                onInput={set('repoUrl')}
                placeholder="https://git.example.com/platform/fleet.git"
                spellcheck={false}
              />
            </div>
            <div class="field">
              <label for="t-branch">Branch</label>
              <input id="t-branch" value={form.branch} onInput={set('branch')} spellcheck={false} />
            </div>
          </div>
          <button type="submit" class="btn primary" disabled={busy}>
            {busy ? 'Creating…' : 'Create token'}
          </button>
        </form>
      )}

      {done && <Notice kind={done.kind}>{done.text}</Notice>}
      <h2>Enrollment tokens</h2>
      {tokens.error && <Notice kind="error">{tokens.error}</Notice>}
      <div class="table-wrap">
        <table class="list tokens">
          <thead>
            <tr>
              <th scope="col">Token id</th>
              <th scope="col">Cluster</th>
              <th scope="col">Labels</th>
              <th scope="col">State</th>
              <th scope="col">Uses</th>
              <th scope="col">Created</th>
              <th scope="col">Expires</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((t) => (
              <tr key={t.id} data-token={t.id}>
                <td>
                  <code>{t.id}</code>
                </td>
                <td>{t.cluster}</td>
                <td>
                  <LabelChips labels={t.labels} />
                </td>
                <td>
                  <Badge info={STATE[t.state]} />
                </td>
                <td class="num">
                  {t.uses} / {t.maxUses}
                </td>
                <td>
                  <Ago iso={t.createdAt} />{' '}
                  <span class="muted small">by {t.createdBy.split(' (')[0]}</span>
                </td>
                <td>{when(t.expiresAt)}</td>
                <td class="row-actions">
                  {t.state === 'active' && (
                    <RevokeButton
                      label={`token ${t.id} for ${t.cluster}`}
                      confirming={confirm === t.id}
                      onAsk={() => setConfirm(t.id)}
                      onCancel={() => setConfirm(undefined)}
                      onConfirm={() =>
                        void revoke(
                          `/api/v1/tokens/${encodeURIComponent(t.id)}/revoke`,
                          `Token ${t.id}`,
                        )
                      }
                    />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {tokens.value && list.length === 0 && <p class="empty">No enrollment token yet.</p>}
      </div>

      <h2>Enrolled clusters</h2>
      <div class="table-wrap">
        <table class="list">
          <thead>
            <tr>
              <th scope="col">Cluster</th>
              <th scope="col">Connection</th>
              <th scope="col">Agent</th>
              <th scope="col">Enrolled</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {clusters.map((c) => (
              <tr key={c.name}>
                <td>
                  <a href={href('clusters', c.name)}>{c.name}</a>
                </td>
                <td>
                  <Badge
                    info={
                      c.revoked
                        ? { tone: 'bad', symbol: '⊘', text: 'Revoked' }
                        : c.connected
                          ? { tone: 'ok', symbol: '●', text: 'Connected' }
                          : { tone: 'muted', symbol: '○', text: 'Not connected' }
                    }
                  />
                </td>
                <td>
                  <code>{c.agentVersion || '—'}</code>
                </td>
                <td>{when(c.enrolledAt)}</td>
                <td class="row-actions">
                  {!c.revoked && (
                    <RevokeButton
                      label={`cluster ${c.name}`}
                      confirming={confirm === `cluster/${c.name}`}
                      onAsk={() => setConfirm(`cluster/${c.name}`)}
                      onCancel={() => setConfirm(undefined)}
                      onConfirm={() =>
                        void revoke(
                          `/api/v1/clusters/${encodeURIComponent(c.name)}/revoke`,
                          `Cluster ${c.name}`,
                        )
                      }
                    />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
