// One cluster: its labels, agent, connection, pause and apps; operator actions and revocation.
import { useState } from 'preact/hooks';
import { HubCallError } from '../api.ts';
import { Ago, Badge, LabelChips, Notice, PageHeader, Revision, RoleNote } from '../components.tsx';
import { asLastReported, driftInfo, HEALTH, isReporting, SYNC, when } from '../model.ts';
import { href } from '../router.ts';
import { useFleet, useSession } from '../session.ts';
import { OperatorActions, PauseBadge, PauseBanner } from '../suspension.tsx';

export function ClusterPage({ name }: { name: string }) {
  const { api, can } = useSession();
  const fleet = useFleet();
  const [result, setResult] = useState<{ kind: 'ok' | 'error'; text: string } | undefined>();
  const [confirming, setConfirming] = useState(false);
  const c = fleet.cluster(name);
  // A cluster not read yet may still be on a later page of the load.
  if (!fleet.loaded || (!c && !fleet.complete)) return <p class="muted">Loading…</p>;
  if (!c) return <Notice kind="error">No cluster named {name} has enrolled.</Notice>;
  const apps = fleet.appsOf(name).sort((a, b) => a.app.localeCompare(b.app));
  // Without a reporting agent, the apps' states are only what it said last.
  const reporting = isReporting(c);

  const act = async (what: () => Promise<unknown>, done: string) => {
    try {
      await what();
      setResult({ kind: 'ok', text: done });
      await fleet.reloadCluster(name);
    } catch (err) {
      setResult({ kind: 'error', text: err instanceof HubCallError ? err.message : String(err) });
    }
  };
  const path = `/api/v1/clusters/${encodeURIComponent(name)}`;
  // The agent's own word on a pause of the whole cluster.
  const clusterPause = c.config?.suspensions?.find((s) => s.app === '') ?? null;

  return (
    <>
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href={href()}>Fleet</a> / <span>{name}</span>
      </nav>
      <PageHeader
        title={name}
        sub={
          <Badge
            info={
              c.revoked
                ? { tone: 'bad', symbol: '⊘', text: 'Revoked' }
                : c.connected
                  ? { tone: 'ok', symbol: '●', text: 'Connected' }
                  : { tone: 'muted', symbol: '○', text: 'Not connected' }
            }
          />
        }
        actions={
          <>
            <OperatorActions cluster={name} connected={c.connected} paused={clusterPause} />
            {can('admin') && !c.revoked && !confirming && (
              <button type="button" class="btn danger" onClick={() => setConfirming(true)}>
                Revoke cluster…
              </button>
            )}
          </>
        }
      />
      {confirming && (
        <div class="confirm card" role="alertdialog" aria-labelledby="revoke-title">
          <p id="revoke-title">
            <strong>Revoke {name}?</strong> Its certificates stop working at once and its stream is
            closed; it can only return with a new enrollment token.
          </p>
          <button
            type="button"
            class="btn danger"
            onClick={() => {
              setConfirming(false);
              void act(() => api.post(`${path}/revoke`), `${name} was revoked.`);
            }}
          >
            Revoke {name}
          </button>{' '}
          <button type="button" class="btn ghost" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      )}
      {result && <Notice kind={result.kind}>{result.text}</Notice>}
      <PauseBanner s={clusterPause} />

      <section class="card">
        <dl class="facts grid">
          <div>
            <dt>Labels</dt>
            <dd>
              <LabelChips labels={c.labels} />
            </dd>
          </div>
          <div>
            <dt>Agent version</dt>
            <dd>
              <code>{c.agentVersion || '—'}</code>
            </dd>
          </div>
          <div>
            <dt>Last seen</dt>
            <dd>
              <Ago iso={c.lastSeen} /> <span class="muted small">{when(c.lastSeen)}</span>
            </dd>
          </div>
          <div>
            <dt>Enrolled</dt>
            <dd>{when(c.enrolledAt)}</dd>
          </div>
          {c.repoUrl && (
            <div>
              <dt>Repository</dt>
              <dd>
                <code>{c.repoUrl}</code> {c.branch && <span class="muted">@ {c.branch}</span>}
              </dd>
            </div>
          )}
          {c.revoked && (
            <div>
              <dt>Revoked</dt>
              <dd>{when(c.revokedAt)}</dd>
            </div>
          )}
        </dl>
      </section>

      {c.config?.state === 'failed' && (
        <Notice kind="error">
          <strong>driftless.yaml failed</strong> at <code>{c.config.revision.slice(0, 7)}</code>:{' '}
          <code class="pre">{c.config.error}</code>{' '}
          {c.config.appliedRevision
            ? `Every app stays at the config of ${c.config.appliedRevision.slice(0, 7)}.`
            : 'No app is synced until it is fixed.'}
        </Notice>
      )}

      <h2>Apps</h2>
      {!can('operator') && <RoleNote role="operator" />}
      <div class="table-wrap">
        <table class="list">
          <thead>
            <tr>
              <th scope="col">App</th>
              <th scope="col">Sync</th>
              <th scope="col">Health</th>
              <th scope="col">Drift</th>
              <th scope="col">Revision</th>
              <th scope="col">Mode</th>
              <th scope="col">Last sync</th>
              <th scope="col">Message</th>
            </tr>
          </thead>
          <tbody>
            {apps.map((a) => (
              <tr key={a.app} class={a.gone ? 'gone' : ''}>
                <th scope="row">
                  <a href={href('apps', name, a.app)}>{a.app}</a>
                  {a.gone && <span class="muted small"> (removed from Git)</span>}{' '}
                  <PauseBadge s={a.suspension} />
                </th>
                <td>
                  <Badge info={asLastReported(SYNC[a.syncStatus], reporting)} />
                </td>
                <td>
                  <Badge info={asLastReported(HEALTH[a.health], reporting)} />
                </td>
                <td>
                  {a.driftCount > 0 ? (
                    <a
                      href={`${href('drift')}?cluster=${encodeURIComponent(name)}&app=${encodeURIComponent(a.app)}`}
                    >
                      <Badge info={driftInfo(a.driftCount)} />
                    </a>
                  ) : (
                    <Badge info={driftInfo(0)} />
                  )}
                </td>
                <td>
                  <Revision revision={a.revision} cluster={name} app={a.app} />
                </td>
                <td>{a.syncMode}</td>
                <td>
                  <Ago iso={a.lastSync} />
                </td>
                <td class="msg">{a.healthMessage || a.message || <span class="muted">—</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {apps.length === 0 && <p class="empty">This cluster has reported no apps yet.</p>}
      </div>
    </>
  );
}
